"""The consumers: messages off the queue, through their handlers, deleted once all succeeded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import PortError
from crm.domain.model.delivery import MalformedEvent, PublishedEvent
from crm.domain.use_cases.event_handlers import HandlerRegistry
from crm.ports.delivery import (
    BatchTransactionalHandler,
    EventHandler,
    Handler,
    TransactionalHandler,
)
from crm.ports.message_queue import MAX_BATCH, MessageQueue, ReceivedMessage
from crm.ports.system import Clock
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("crm.worker")


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    wait_seconds: float = 20.0
    """Long poll: how long one receive waits for a first message."""
    visibility_timeout: int = 30
    """Seconds a received message stays hidden; extended every third of it while it runs."""
    retry_base_seconds: int = 2
    """A failed message shows again after base * 2^(receives - 1) seconds, at most
    `retry_max_seconds` (after `max receives` it goes to the dead-letter queue instead)."""
    retry_max_seconds: int = 900
    max_messages: int = MAX_BATCH


class ConsumeEvents:
    """Receives up to ten messages and runs each one's handlers (the messages concurrently, a
    message's handlers one after the other), keeping it hidden while they run; deletes the
    messages whose handlers all succeeded, and shows a failed one again after a backoff.
    Idempotent by event id per handler: a handler that already handled an event is skipped."""

    def __init__(
        self,
        queue: MessageQueue,
        uow: UnitOfWorkFactory,
        clock: Clock,
        handlers: HandlerRegistry,
        options: ConsumerOptions | None = None,
    ) -> None:
        self._queue, self._uow, self._clock, self._handlers = queue, uow, clock, handlers
        self._options = options or ConsumerOptions()

    async def execute(self) -> int:
        """One receive and its messages: how many messages it received."""
        return await self._handle(await self._receive())

    async def run(self, stop: asyncio.Event) -> None:
        """Receive until `stop` is set; `stop` interrupts the wait for messages, never the
        work on messages already received."""
        while not stop.is_set():
            try:
                await self._handle(await receive_unless(stop, self._receive()))
            except PortError as e:
                log.warning("receiving events failed, retrying: %r", e)
                await pause(stop, 1.0)
            except Exception:
                log.exception("consuming events failed, retrying")
                await pause(stop, 1.0)

    async def _receive(self) -> list[ReceivedMessage]:
        o = self._options
        return await self._queue.receive(o.max_messages, o.wait_seconds, o.visibility_timeout)

    async def _handle(self, messages: list[ReceivedMessage]) -> int:
        """Copies of one event (a relay that sent it twice) in turn, so that the later ones
        find it handled; everything else at once. Then one delete for what succeeded."""
        copies: dict[str, list[ReceivedMessage]] = {}
        for m in messages:
            copies.setdefault(m.body, []).append(m)
        done = await self._together(list(copies))
        outcomes = await asyncio.gather(*(self._in_turn(same, done) for same in copies.values()))
        handled = [receipt for receipts in outcomes for receipt in receipts]
        if handled:
            await self._queue.delete(handled)
        return len(messages)

    async def _together(self, bodies: list[str]) -> set[tuple[str, UUID]]:
        """The transactional handlers of several events in one transaction (one commit for a
        received batch instead of one per event and handler): the (handler, event) pairs it
        handled. When it fails nothing of it stays, and each event is handled on its own."""
        work: dict[str, tuple[TransactionalHandler, list[PublishedEvent]]] = {}
        for body in bodies:
            try:
                event = PublishedEvent.decode(body)
            except MalformedEvent:
                continue  # reported when the message is processed alone
            for handler in self._handlers.handlers_for(event.type):
                if isinstance(handler, TransactionalHandler):
                    work.setdefault(handler.name, (handler, []))[1].append(event)
        if sum(len(events) for _, events in work.values()) < 2:
            return set()
        try:
            async with self._uow() as tx:
                now = self._clock.now()
                for handler, events in work.values():
                    new = await tx.processed_events.record_many(
                        handler.name, [e.id for e in events], now
                    )
                    await _handle_all(handler, tx, [e for e in events if _take(new, e.id)])
                await tx.commit()
        except Exception as e:
            log.warning("handling %d events together failed, one by one now: %r", len(bodies), e)
            return set()
        return {(name, event.id) for name, (_, events) in work.items() for event in events}

    async def _in_turn(
        self, copies: list[ReceivedMessage], done: set[tuple[str, UUID]]
    ) -> list[str]:
        return [m.receipt for m in copies if await self._process(m, done)]

    async def _process(self, message: ReceivedMessage, done: set[tuple[str, UUID]]) -> bool:
        """True when every handler of the message's event succeeded (or had already)."""
        keep_hidden = asyncio.ensure_future(self._keep_hidden(message.receipt))
        try:
            event = PublishedEvent.decode(message.body)
            for handler in self._handlers.handlers_for(event.type):
                if (handler.name, event.id) not in done:
                    await self._run(handler, event)
            return True
        except MalformedEvent as e:
            log.error("message %s is not an event: %s", message.message_id, e)
        except Exception:
            log.exception("handling message %s failed", message.message_id)
        finally:
            keep_hidden.cancel()
        await self._retry_later(message)
        return False

    async def _run(self, handler: Handler, event: PublishedEvent) -> None:
        if isinstance(handler, TransactionalHandler):
            async with self._uow() as tx:
                if await tx.processed_events.record(handler.name, event.id, self._clock.now()):
                    await handler.handle_in(tx, event)
                    await tx.commit()
            return
        await self._act(handler, event)

    async def _act(self, handler: EventHandler, event: PublishedEvent) -> None:
        """Outside the database: act unless recorded, then record (before the delete)."""
        async with self._uow() as tx:
            if await tx.processed_events.seen(handler.name, event.id):
                return
        await handler.handle(event)
        async with self._uow() as tx:
            await tx.processed_events.record(handler.name, event.id, self._clock.now())
            await tx.commit()

    async def _keep_hidden(self, receipt: str) -> None:
        await keep_hidden(self._queue, receipt, self._options.visibility_timeout)

    async def _retry_later(self, message: ReceivedMessage) -> None:
        await retry_later(self._queue, message, self._options)


async def keep_hidden(queue: MessageQueue, receipt: str, visibility: int) -> None:
    """Extend a received message's visibility every third of `visibility` seconds, until
    cancelled."""
    while True:
        await asyncio.sleep(visibility / 3)
        try:
            await queue.change_visibility(receipt, visibility)
        except PortError as e:
            log.warning("could not extend a message's visibility: %r", e)


async def retry_later(queue: MessageQueue, message: ReceivedMessage, o: ConsumerOptions) -> None:
    """Show a failed message again after its backoff (exponential in its receive count)."""
    delay = min(o.retry_base_seconds * 2 ** (message.receive_count - 1), o.retry_max_seconds)
    try:
        await queue.change_visibility(message.receipt, delay)
    except PortError as e:
        log.warning("could not reschedule message %s: %r", message.message_id, e)


def _take(ids: set[UUID], event_id: UUID) -> bool:
    """Whether `event_id` is in `ids`, taking it out: a copy later in the batch is not."""
    if event_id in ids:
        ids.discard(event_id)
        return True
    return False


async def _handle_all(
    handler: TransactionalHandler, tx: UnitOfWork, events: list[PublishedEvent]
) -> None:
    if isinstance(handler, BatchTransactionalHandler):
        await handler.handle_all_in(tx, events)
    else:
        for event in events:
            await handler.handle_in(tx, event)


async def receive_unless(
    stop: asyncio.Event, receiving: Coroutine[Any, Any, list[ReceivedMessage]]
) -> list[ReceivedMessage]:
    """What `receiving` returns, or nothing once `stop` is set first (the receive cancelled:
    a message it had taken shows again after its visibility timeout)."""
    receive = asyncio.ensure_future(receiving)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([receive, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if receive.done():
        return receive.result()
    receive.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receive
    return []


async def pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
