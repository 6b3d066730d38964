"""A receive loop for a queue of plain bodies (inbound WhatsApp notifications): each message
through one idempotent handler, deleted once it succeeded, shown again after a backoff when
it failed (and moved to the dead-letter queue after the queue's most receives)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from crm.domain.errors import PortError, ServiceUnavailable
from crm.domain.use_cases.consume_events import (
    ConsumerOptions,
    keep_hidden,
    pause,
    receive_unless,
    retry_later,
)
from crm.ports.message_queue import MessageQueue, ReceivedMessage

log = logging.getLogger("crm.worker")


class ConsumeQueue:
    """Up to ten messages a receive, handled concurrently; the handler must be idempotent
    (at least once: a message whose delete failed comes again)."""

    def __init__(
        self,
        name: str,
        queue: MessageQueue,
        handle: Callable[[str], Awaitable[None]],
        options: ConsumerOptions | None = None,
    ) -> None:
        self.name = name
        self._queue, self._handle = queue, handle
        self._options = options or ConsumerOptions()

    async def execute(self) -> int:
        """One receive and its messages: how many it received."""
        return await self._all(await self._receive())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._all(await receive_unless(stop, self._receive()))
            except PortError as e:
                log.warning("%s: receiving failed, retrying: %r", self.name, e)
                await pause(stop, 1.0)
            except Exception:
                log.exception("%s: consuming failed, retrying", self.name)
                await pause(stop, 1.0)

    async def _receive(self) -> list[ReceivedMessage]:
        o = self._options
        return await self._queue.receive(o.max_messages, o.wait_seconds, o.visibility_timeout)

    async def _all(self, messages: list[ReceivedMessage]) -> int:
        done = await asyncio.gather(*(self._one(m) for m in messages))
        handled = [m.receipt for m, ok in zip(messages, done, strict=True) if ok]
        if handled:
            await self._queue.delete(handled)
        return len(messages)

    async def _one(self, message: ReceivedMessage) -> bool:
        hidden = asyncio.ensure_future(
            keep_hidden(self._queue, message.receipt, self._options.visibility_timeout)
        )
        try:
            await self._handle(message.body)
            return True
        except ServiceUnavailable as e:
            log.warning("%s: message %s waits: %r", self.name, message.message_id, e)
        except Exception:
            log.exception("%s: handling message %s failed", self.name, message.message_id)
        finally:
            hidden.cancel()
        await retry_later(self._queue, message, self._options)
        return False
