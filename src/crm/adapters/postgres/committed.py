"""Units of work that report the events they recorded once their transaction committed.

The realtime stream hears of a write this way, from the process that made it, without a
round trip of its own: the unit of work notes what it added to the outbox and, after its
commit, hands the events to `CommittedEvents` (which only appends them to a list). A unit of
work joined to an idempotency claim's transaction commits only a savepoint: its events wait
for the claim's own commit, so nothing is reported that could still be rolled back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from crm.adapters.postgres.engine import Turns
from crm.adapters.postgres.idempotency import PostgresIdempotencyStore
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.domain.model.events import DomainEvent
from crm.ports.event_stream import CommittedEvents
from crm.ports.idempotency import Claim, IdempotencyKey, StoredResponse
from crm.ports.repositories import Outbox
from crm.ports.system import Clock

_joined_events: ContextVar[list[DomainEvent] | None] = ContextVar("crm_joined_events", default=None)
"""The events of savepoints released inside the current idempotency claim, until it commits."""


class _NotingOutbox:
    def __init__(self, outbox: Outbox, added: list[DomainEvent]) -> None:
        self._outbox, self._added = outbox, added

    async def add(self, events: Iterable[DomainEvent]) -> None:
        batch = list(events)
        await self._outbox.add(batch)
        self._added.extend(batch)


class ReportingUnitOfWork(SqlAlchemyUnitOfWork):
    def __init__(
        self, engine: AsyncEngine, turns: Turns | None, committed: CommittedEvents
    ) -> None:
        super().__init__(engine, turns)
        self._committed = committed
        self._added: list[DomainEvent] = []

    def _repositories(self) -> Self:
        super()._repositories()
        self._added = []
        self.outbox = _NotingOutbox(self.outbox, self._added)
        return self

    async def commit(self) -> None:
        await super().commit()
        events = self._added.copy()
        self._added.clear()
        if self._savepoint is None:
            self._committed(events)
            return
        waiting = _joined_events.get()
        if waiting is not None:
            waiting.extend(events)


class _ReportingClaim:
    def __init__(self, claim: Claim, events: list[DomainEvent], committed: CommittedEvents):
        self._claim, self._events, self._committed = claim, events, committed
        self.replay: StoredResponse | None = claim.replay

    async def complete(self, response: StoredResponse) -> None:
        await self._claim.complete(response)
        events = self._events.copy()
        self._events.clear()
        self._committed(events)


class ReportingIdempotencyStore(PostgresIdempotencyStore):
    def __init__(
        self,
        engine: AsyncEngine,
        turns: Turns,
        clock: Clock,
        retention: timedelta,
        committed: CommittedEvents,
    ) -> None:
        super().__init__(engine, turns, clock, retention)
        self._committed = committed

    @asynccontextmanager
    async def claim(self, key: IdempotencyKey) -> AsyncIterator[Claim]:
        events: list[DomainEvent] = []
        token = _joined_events.set(events)
        try:
            async with super().claim(key) as claim:
                yield _ReportingClaim(claim, events, self._committed)
        finally:
            _joined_events.reset(token)
