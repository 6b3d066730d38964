"""The relay's view of the in-memory outbox and the consumers' processed-event records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.state import MemoryState
from crm.domain.model.delivery import PublishedEvent


class InMemoryOutboxDelivery:
    """No locks to skip: a memory unit of work holds the whole store while it runs."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def claim_unpublished(self, limit: int) -> list[PublishedEvent]:
        waiting = [e for e in self._s.outbox if e.id not in self._s.published]
        waiting.sort(key=lambda e: (e.occurred_at, e.id))
        return [PublishedEvent.of(e) for e in waiting[:limit]]

    async def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        for event_id in event_ids:
            self._s.published[event_id] = at

    async def purge_published(self, before: datetime, limit: int) -> int:
        published = self._s.published
        old = [e.id for e in self._s.outbox if e.id in published and e.occurred_at < before]
        doomed = set(old[:limit])
        self._s.outbox = [e for e in self._s.outbox if e.id not in doomed]
        for event_id in doomed:
            del published[event_id]
        return len(doomed)


class InMemoryProcessedEvents:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def seen(self, handler: str, event_id: UUID) -> bool:
        return (handler, event_id) in self._s.processed_events

    async def record(self, handler: str, event_id: UUID, at: datetime) -> bool:
        if (handler, event_id) in self._s.processed_events:
            return False
        self._s.processed_events[handler, event_id] = at
        return True

    async def record_many(self, handler: str, event_ids: Sequence[UUID], at: datetime) -> set[UUID]:
        return {e for e in dict.fromkeys(event_ids) if await self.record(handler, e, at)}

    async def purge(self, before: datetime, limit: int) -> int:
        old = [k for k, at in self._s.processed_events.items() if at < before][:limit]
        for key in old:
            del self._s.processed_events[key]
        return len(old)
