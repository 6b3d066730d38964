"""An in-process message queue that behaves like SQS: visibility timeouts, receive counts, a
dead-letter queue after `max_receives`. `crm dev` delivers through it; tests use it too."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crm.domain.errors import PortError
from crm.ports.message_queue import MAX_BATCH, OutgoingMessage, ReceivedMessage


@dataclass
class _Message:
    id: str
    body: str
    sent_at: datetime
    receive_count: int = 0
    visible_at: float = 0.0
    receipt: str | None = None


class InMemoryMessageQueue:
    """`max_receives` None keeps failing messages forever (no dead-letter queue)."""

    def __init__(
        self, max_receives: int | None = 5, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_receives, self._now = max_receives, monotonic
        self._messages: dict[str, _Message] = {}
        self._dead: dict[str, _Message] = {}
        self._changed = asyncio.Condition()

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        _check_batch(len(messages))
        _check_distinct(messages)
        for m in messages:
            message_id = str(uuid.uuid4())
            self._messages[message_id] = _Message(message_id, m.body, datetime.now(UTC))
        await self._notify()

    async def receive(
        self, max_messages: int, wait_seconds: float, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        _check_batch(max_messages)
        deadline = self._now() + wait_seconds
        while True:
            taken = self._take(max_messages, visibility_timeout)
            now = self._now()
            if taken or now >= deadline:
                return taken
            wake = min([deadline, *self._hidden_until(now)])
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), max(wake - now, 0.001))

    async def delete(self, receipts: Sequence[str]) -> None:
        _check_batch(len(receipts))
        gone = set(receipts)
        for message_id in [k for k, m in self._messages.items() if m.receipt in gone]:
            del self._messages[message_id]

    async def change_visibility(self, receipt: str, seconds: int) -> None:
        for m in self._messages.values():
            if m.receipt == receipt:
                m.visible_at = self._now() + seconds
                await self._notify()
                return
        raise PortError("The receipt handle is not that of a message in flight.")

    async def dead_letters(self, limit: int) -> list[ReceivedMessage]:
        listed = list(self._dead.values())[:limit]
        for m in listed:
            m.receive_count += 1
        return [_received(m, m.receipt or "") for m in listed]

    async def redrive(self, limit: int | None = None) -> int:
        moved = list(self._dead.values())[:limit]
        for m in moved:
            del self._dead[m.id]
            fresh = _Message(str(uuid.uuid4()), m.body, datetime.now(UTC))
            self._messages[fresh.id] = fresh
        await self._notify()
        return len(moved)

    def _take(self, max_messages: int, visibility_timeout: int) -> list[ReceivedMessage]:
        now, taken = self._now(), list[ReceivedMessage]()
        for m in list(self._messages.values()):
            if len(taken) == max_messages:
                break
            if m.visible_at > now:
                continue
            m.receive_count += 1
            if self._max_receives is not None and m.receive_count > self._max_receives:
                del self._messages[m.id]
                self._dead[m.id] = m
                continue
            m.receipt, m.visible_at = uuid.uuid4().hex, now + visibility_timeout
            taken.append(_received(m, m.receipt))
        return taken

    def _hidden_until(self, now: float) -> list[float]:
        return [m.visible_at for m in self._messages.values() if m.visible_at > now]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _received(m: _Message, receipt: str) -> ReceivedMessage:
    return ReceivedMessage(m.id, m.body, receipt, m.receive_count, m.sent_at)


def _check_distinct(messages: Sequence[OutgoingMessage]) -> None:
    if len({m.id for m in messages}) != len(messages):
        raise ValueError("the messages of a batch need distinct ids")


def _check_batch(size: int) -> None:
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} messages, not {size}")
