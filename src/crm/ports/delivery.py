"""Delivering outbox events: the relay's and the consumers' repositories, and event handlers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from uuid import UUID

from crm.domain.model.delivery import PublishedEvent

if TYPE_CHECKING:
    from crm.ports.unit_of_work import UnitOfWork


class OutboxDelivery(Protocol):
    """The outbox as the relay sees it, inside a unit of work."""

    async def claim_unpublished(self, limit: int) -> list[PublishedEvent]:
        """The oldest unpublished events (by occurred_at, id), locked until the unit of work
        ends; rows another unit of work holds are skipped, not waited for."""

    async def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None: ...

    async def purge_published(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` events published and occurred before `before`, with their
        timeline rows; unpublished events are never deleted. How many events went."""


class ProcessedEvents(Protocol):
    """Which handler has handled which event (the consumers' idempotency guard)."""

    async def seen(self, handler: str, event_id: UUID) -> bool: ...

    async def record(self, handler: str, event_id: UUID, at: datetime) -> bool:
        """Record `handler` as done with the event; False when it already was. Inside a
        concurrent unit of work recording the same pair, waits for it to end."""

    async def record_many(self, handler: str, event_ids: Sequence[UUID], at: datetime) -> set[UUID]:
        """`record` for several events at once: those it recorded (not already recorded)."""

    async def purge(self, before: datetime, limit: int) -> int:
        """Forget up to `limit` records older than `before` (no message comes back so late)."""


@runtime_checkable
class EventHandler(Protocol):
    """Acts outside the database (an HTTP call, a push, an email). Runs at least once per
    event and handler: a crash after the act and before it is recorded repeats it, so the
    act itself must tolerate a repeat (e.g. carry the event id as an idempotency key)."""

    name: str
    """Stable: the key of its processed records (renaming it hands every event over again)."""

    async def handle(self, event: PublishedEvent) -> None: ...


@runtime_checkable
class TransactionalHandler(Protocol):
    """Writes to the database only, through `tx`: its writes commit together with the record
    that it handled the event, so their effect happens exactly once."""

    name: str

    async def handle_in(self, tx: UnitOfWork, event: PublishedEvent) -> None: ...


@runtime_checkable
class BatchTransactionalHandler(Protocol):
    """A `TransactionalHandler` that can also take several events at once, in one unit of
    work, with the same effect as `handle_in` for each (in fewer statements)."""

    name: str

    async def handle_in(self, tx: UnitOfWork, event: PublishedEvent) -> None: ...

    async def handle_all_in(self, tx: UnitOfWork, events: Sequence[PublishedEvent]) -> None: ...


Handler = EventHandler | TransactionalHandler
