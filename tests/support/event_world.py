"""A small world for the consumer and relay tests: the memory store, the in-process queue, a
handler registry and a consumer on them, and handlers that record what they were given."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.queue import InMemoryMessageQueue
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import ContactCreated, DomainEvent
from crm.domain.use_cases.consume_events import ConsumeEvents, ConsumerOptions
from crm.domain.use_cases.event_handlers import HandlerRegistry
from crm.ports.message_queue import OutgoingMessage
from crm.ports.unit_of_work import UnitOfWork

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MAX_RECEIVES = 3


def event(topic_kind: type[DomainEvent] = ContactCreated, **payload: object) -> PublishedEvent:
    return PublishedEvent.of(
        topic_kind(
            id=uuid4(),
            workspace_id=uuid4(),
            aggregate_id=uuid4(),
            occurred_at=NOW,
            actor_id=None,
            payload=dict(payload),
        )
    )


class Recorder:
    """An EventHandler acting outside the database; fails its first `failures` calls."""

    def __init__(self, name: str = "recorder", failures: int = 0, delay: float = 0.0) -> None:
        self.name, self.failures, self.delay = name, failures, delay
        self.calls: list[UUID] = []
        self.done: list[PublishedEvent] = []

    async def handle(self, event: PublishedEvent) -> None:
        self.calls.append(event.id)
        await asyncio.sleep(self.delay)
        if len(self.calls) <= self.failures:
            raise RuntimeError("downstream failed")
        self.done.append(event)


class Tagger:
    """A TransactionalHandler: adds a tag named after the event, then fails if told to."""

    name = "tagger"

    def __init__(self, fail: bool = False, fail_on: frozenset[UUID] = frozenset()) -> None:
        self.fail, self.fail_on = fail, fail_on

    async def handle_in(self, tx: UnitOfWork, event: PublishedEvent) -> None:
        await tx.tags.ensure(event.workspace_id, [f"seen-{event.id.hex[:8]}"], NOW)
        if self.fail or event.id in self.fail_on:
            raise RuntimeError("after writing")


class BatchTagger(Tagger):
    """A BatchTransactionalHandler: records each batch it is given, then tags like Tagger."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[UUID]] = []

    async def handle_all_in(self, tx: UnitOfWork, events: Sequence[PublishedEvent]) -> None:
        self.batches.append([e.id for e in events])
        for event in events:
            await self.handle_in(tx, event)


class World:
    def __init__(self, visibility: int = 30) -> None:
        self.store = MemoryStore()
        self.queue = InMemoryMessageQueue(max_receives=MAX_RECEIVES)
        self.handlers = HandlerRegistry()
        self.clock = ManualClock(NOW)
        options = ConsumerOptions(
            wait_seconds=0.05, visibility_timeout=visibility, retry_base_seconds=0
        )
        self.consumer_options = options
        self.consumer = ConsumeEvents(self.queue, self.uow, self.clock, self.handlers, options)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def publish(self, *events: PublishedEvent) -> None:
        await self.queue.send([OutgoingMessage(str(e.id), e.encode()) for e in events])

    async def left(self) -> int:
        """Messages still in the queue (received now and released again)."""
        got = await self.queue.receive(10, 0, 0)
        return len(got)
