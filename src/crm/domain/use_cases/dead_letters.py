"""The dead-letter queue: what it holds, and sending it back to be handled again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.model.delivery import MalformedEvent, PublishedEvent
from crm.ports.message_queue import MessageQueue


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that failed `max receives` times; `event_id`/`event_type` are None when its
    body is not an event (shown as `raw`, shortened)."""

    message_id: str
    event_id: UUID | None
    event_type: str | None
    receive_count: int
    sent_at: datetime | None
    raw: str


class DeadLetters:
    """Lists dead letters and moves them back to the queue (`crm worker dlq list|redrive`)."""

    def __init__(self, queue: MessageQueue) -> None:
        self._queue = queue

    async def list(self, limit: int = 100) -> list[DeadLetter]:
        return [
            _describe(m.message_id, m.body, m.receive_count, m.sent_at)
            for m in await self._queue.dead_letters(limit)
        ]

    async def redrive(self, limit: int | None = None) -> int:
        """Move them back (all, or up to `limit`); handlers that already succeeded for an
        event skip it, the others run again."""
        return await self._queue.redrive(limit)


def _describe(message_id: str, body: str, count: int, sent_at: datetime | None) -> DeadLetter:
    try:
        event = PublishedEvent.decode(body)
    except MalformedEvent:
        return DeadLetter(message_id, None, None, count, sent_at, body[:200])
    return DeadLetter(message_id, event.id, event.type, count, sent_at, body[:200])
