"""Forgetting delivered events past their retention, and the consumers' records of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.ports.system import Clock
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

_Purge = Callable[[UnitOfWork, datetime, int], Awaitable[int]]
CHUNK = 1000
"""Rows per transaction: a long purge never holds many locks or one huge transaction."""


@dataclass(frozen=True, slots=True)
class Purged:
    events: int
    processed: int
    deliveries: int = 0


class PurgeOutbox:
    """Deletes published outbox events older than `retention` with their timeline rows (the
    timeline and the audit log then reach back that far; None keeps every event), and the
    records of handled events older than `processed_retention`, and finished webhook
    deliveries older than `deliveries_retention` (the delivery log). Unpublished events stay."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        retention: timedelta | None,
        processed_retention: timedelta,
        chunk: int = CHUNK,
        deliveries_retention: timedelta | None = None,
    ) -> None:
        self._uow, self._clock, self._chunk = uow, clock, chunk
        self._deliveries_retention = deliveries_retention
        self._retention, self._processed_retention = retention, processed_retention

    async def execute(self) -> Purged:
        now = self._clock.now()
        events = 0
        if self._retention is not None:
            events = await self._in_chunks(_published_events, now - self._retention)
        processed = await self._in_chunks(_processed, now - self._processed_retention)
        deliveries = 0
        if self._deliveries_retention is not None:
            deliveries = await self._in_chunks(_deliveries, now - self._deliveries_retention)
        return Purged(events, processed, deliveries)

    async def _in_chunks(self, purge: _Purge, before: datetime) -> int:
        total = 0
        while True:
            async with self._uow() as tx:
                done = await purge(tx, before, self._chunk)
                await tx.commit()
            total += done
            if done < self._chunk:
                return total


async def _published_events(tx: UnitOfWork, before: datetime, limit: int) -> int:
    return await tx.outbox_delivery.purge_published(before, limit)


async def _processed(tx: UnitOfWork, before: datetime, limit: int) -> int:
    return await tx.processed_events.purge(before, limit)


async def _deliveries(tx: UnitOfWork, before: datetime, limit: int) -> int:
    return await tx.webhook_deliveries.purge(before, limit)
