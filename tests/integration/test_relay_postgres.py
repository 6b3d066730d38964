"""The relay and the purge on PostgreSQL: concurrent relays split the backlog with SKIP LOCKED
and send nothing twice; a crash between send and mark sends again, never loses; the purge
removes published events past their retention with their timeline rows, nothing else."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest_asyncio

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.queue import InMemoryMessageQueue
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.domain.errors import ServiceUnavailable
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import ContactCreated, DomainEvent, NoteAdded
from crm.domain.use_cases.purge_outbox import PurgeOutbox
from crm.domain.use_cases.relay_outbox import RelayOutbox
from crm.ports.message_queue import OutgoingMessage
from tests.support.stores import postgres

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
Uow = Callable[[], SqlAlchemyUnitOfWork]


class SlowQueue(InMemoryMessageQueue):
    """Sends take a moment, so concurrent relays really hold their claims at once; the first
    `crashes` sends go through and then raise, as a process dying before its commit would."""

    def __init__(self, crashes: int = 0) -> None:
        super().__init__(max_receives=None)
        self.crashes = crashes
        self.sent: list[str] = []

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        await asyncio.sleep(0.01)
        await super().send(messages)
        self.sent += [m.id for m in messages]
        if self.crashes:
            self.crashes -= 1
            raise ServiceUnavailable("crashed after sending")


@pytest_asyncio.fixture
async def uow(database_url: str) -> AsyncIterator[Uow]:
    async with postgres(database_url) as (make_uow, _pool):
        yield make_uow


async def record(uow: Uow, events: Sequence[DomainEvent]) -> None:
    async with uow() as tx:
        await tx.outbox.add(events)
        await tx.commit()


def contact_events(count: int, at: datetime = NOW) -> list[DomainEvent]:
    workspace = uuid4()
    return [
        ContactCreated(
            id=uuid4(),
            workspace_id=workspace,
            aggregate_id=uuid4(),
            occurred_at=at + timedelta(milliseconds=i),
            actor_id=None,
        )
        for i in range(count)
    ]


async def drain(relay: RelayOutbox) -> int:
    total = 0
    while published := await relay.execute():
        total += published
    return total


async def test_two_relays_split_the_backlog_and_send_no_event_twice(uow: Uow) -> None:
    events = contact_events(300)
    await record(uow, events)
    queue, clock = SlowQueue(), ManualClock(NOW)
    first, second = (RelayOutbox(uow, queue, clock, batch_size=30) for _ in range(2))
    shares = await asyncio.wait_for(asyncio.gather(drain(first), drain(second)), 30)
    assert sum(shares) == 300
    assert min(shares) > 0  # both took part: neither waited for the other's locks
    assert Counter(queue.sent) == Counter({str(e.id): 1 for e in events})
    bodies = [PublishedEvent.decode(m.body) for m in await queue.receive(10, 0, 30)]
    assert all(b.type == "contact.created" for b in bodies)


async def test_a_crash_between_send_and_mark_sends_again_and_loses_nothing(
    uow: Uow, db: asyncpg.Connection
) -> None:
    events = contact_events(25)
    await record(uow, events)
    queue = SlowQueue(crashes=3)  # the whole first round: three sends of 10, 10 and 5
    relay = RelayOutbox(uow, queue, ManualClock(NOW), batch_size=25)
    try:
        await relay.execute()
    except ServiceUnavailable:
        pass
    else:
        raise AssertionError("the first round should have crashed")
    unpublished = "SELECT count(*) FROM outbox_event WHERE published_at IS NULL"
    assert await db.fetchval(unpublished) == 25  # rolled back: still to be sent
    assert await relay.execute() == 25
    assert await db.fetchval(unpublished) == 0
    assert Counter(queue.sent) == Counter({str(e.id): 2 for e in events})
    assert await relay.execute() == 0


async def test_the_relay_claims_oldest_first(uow: Uow) -> None:
    later, earlier = contact_events(5, NOW + timedelta(hours=1)), contact_events(5, NOW)
    await record(uow, later)
    await record(uow, earlier)
    queue = SlowQueue()
    assert await RelayOutbox(uow, queue, ManualClock(NOW), batch_size=5).execute() == 5
    assert set(queue.sent) == {str(e.id) for e in earlier}


async def test_purge_drops_published_events_past_retention_with_their_timeline_rows(
    uow: Uow, db: asyncpg.Connection
) -> None:
    old = NOW - timedelta(days=10)
    note_on = uuid4()
    kept_unpublished = contact_events(2, old)
    published_old = [
        *contact_events(3, old),
        NoteAdded(
            id=uuid4(),
            workspace_id=uuid4(),
            aggregate_id=uuid4(),
            occurred_at=old,
            actor_id=None,
            payload={"record_type": "contact", "record_id": str(note_on)},
        ),
    ]
    recent = contact_events(2, NOW - timedelta(days=1))
    await record(uow, [*kept_unpublished, *published_old, *recent])
    await mark_published(uow, [e.id for e in (*published_old, *recent)])
    await processed(uow, ("h", uuid4(), NOW - timedelta(days=20)), ("h", uuid4(), NOW))
    assert await db.fetchval("SELECT count(*) FROM outbox_event_record") == 9
    clock = ManualClock(NOW)
    done = await PurgeOutbox(uow, clock, timedelta(days=7), timedelta(days=14), chunk=2).execute()
    assert (done.events, done.processed) == (4, 1)
    left = {r["id"] for r in await db.fetch("SELECT id FROM outbox_event")}
    assert left == {e.id for e in (*kept_unpublished, *recent)}
    refs = {r["event_id"] for r in await db.fetch("SELECT event_id FROM outbox_event_record")}
    assert refs == left  # the note's rows (the note and its contact) went with it
    assert await db.fetchval("SELECT count(*) FROM processed_event") == 1


async def mark_published(uow: Uow, ids: list[UUID]) -> None:
    async with uow() as tx:
        await tx.outbox_delivery.mark_published(ids, NOW)
        await tx.commit()


async def processed(uow: Uow, *rows: tuple[str, UUID, datetime]) -> None:
    async with uow() as tx:
        for handler, event_id, at in rows:
            assert await tx.processed_events.record(handler, event_id, at)
            assert not await tx.processed_events.record(handler, event_id, at)
        await tx.commit()


async def test_recording_many_processed_events_returns_only_the_new_and_races_safely(
    uow: Uow,
) -> None:
    old, new, shared = uuid4(), uuid4(), [uuid4() for _ in range(20)]
    await processed(uow, ("h", old, NOW))
    async with uow() as tx:
        assert await tx.processed_events.record_many("h", [old, new, new], NOW) == {new}
        assert await tx.processed_events.record_many("other", [old], NOW) == {old}
        await tx.commit()

    async def consumer(order: list[UUID]) -> set[UUID]:
        async with uow() as tx:
            got = await tx.processed_events.record_many("race", order, NOW)
            await asyncio.sleep(0.05)  # hold the rows: the other waits, never deadlocks
            await tx.commit()
            return got

    first, second = await asyncio.gather(consumer(shared), consumer(shared[::-1]))
    assert first | second == set(shared)
    assert not first & second
