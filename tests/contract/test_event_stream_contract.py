"""Contracts of the realtime stream's ports: EventBroadcaster (in-process and Redis),
EventReplay (memory and PostgreSQL), and units of work reporting what they committed; then
what only Redis does: reach other processes, once each, and recover from outages."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import pytest_asyncio

from crm import bootstrap
from crm.adapters.memory.event_stream import InMemoryEventBroadcaster
from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.event_publisher import channel_of
from crm.adapters.redis.event_stream import RedisEventBroadcaster
from crm.adapters.system.clock import SystemClock
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import ContactCreated, DomainEvent
from crm.domain.model.timeline import EventPosition
from crm.domain.model.workspace import Workspace
from crm.ports.event_stream import EventBroadcaster, EventReplay, Signal, Subscription
from crm.ports.idempotency import IdempotencyKey, StoredResponse
from tests.support.api import closed_port
from tests.support.relay import Relay
from tests.support.servers import redis_server_url

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
WAIT = 3.0


def event(workspace_id: UUID, kind: str = "contact.created", at: datetime = T0) -> PublishedEvent:
    return PublishedEvent(
        id=uuid.uuid4(),
        type=kind,
        workspace_id=workspace_id,
        aggregate_type=kind.split(".")[0],
        aggregate_id=uuid.uuid4(),
        actor_id=None,
        occurred_at=at,
        payload={"n": 1},
    )


def everything(_: PublishedEvent) -> bool:
    return True


async def received(subscription: Subscription, count: int) -> list[PublishedEvent]:
    """`count` events (in as many batches as they come), failing on a signal or a timeout."""
    got: list[PublishedEvent] = []
    async with asyncio.timeout(WAIT):
        while len(got) < count:
            batch = await subscription.next(WAIT)
            assert isinstance(batch, list), batch
            got += batch
    return got


class BroadcasterContract:
    """Each subclass provides `subject`, started, for its adapter."""

    async def test_a_subscriber_hears_its_workspace_after_it_subscribed(
        self, subject: EventBroadcaster
    ) -> None:
        mine, other = uuid.uuid4(), uuid.uuid4()
        async with subject.subscribe(mine, everything, 10) as subscription:
            first, elsewhere, second = event(mine), event(other), event(mine)
            subject.publish([first, elsewhere])
            subject.publish([second])
            assert await received(subscription, 2) == [first, second]
            assert await subscription.next(0.2) is None

    async def test_only_accepted_events_are_queued(self, subject: EventBroadcaster) -> None:
        ws = uuid.uuid4()
        only_contacts = lambda e: e.type.startswith("contact.")  # noqa: E731
        async with subject.subscribe(ws, only_contacts, 1) as subscription:
            # A company event would overflow a queue of one if it were queued.
            company, contact = event(ws, "company.created"), event(ws)
            subject.publish([company, contact])
            assert await received(subscription, 1) == [contact]

    async def test_overflow_drops_the_queue_and_is_final(self, subject: EventBroadcaster) -> None:
        ws = uuid.uuid4()
        async with subject.subscribe(ws, everything, 2) as subscription:
            subject.publish([event(ws), event(ws), event(ws)])
            assert await subscription.next(WAIT) is Signal.OVERFLOW
            subject.publish([event(ws)])
            assert await subscription.next(0.1) is Signal.OVERFLOW

    async def test_interrupts(self, subject: EventBroadcaster) -> None:
        ws = uuid.uuid4()
        async with subject.subscribe(ws, everything, 10) as subscription:
            queued = event(ws)
            subject.publish([queued])
            await asyncio.sleep(0.05)
            subscription.interrupt(Signal.MISSED)
            # Events queued before a MISSED notice come first; MISSED is not final.
            assert await subscription.next(WAIT) == [queued]
            assert await subscription.next(WAIT) is Signal.MISSED
            assert await subscription.next(0.05) is None
            subject.publish([event(ws)])
            await asyncio.sleep(0.05)
            subscription.interrupt(Signal.CLOSED)
            assert await subscription.next(WAIT) is Signal.CLOSED
            assert await subscription.next(0.05) is Signal.CLOSED

    async def test_stop_closes_every_subscription(self, subject: EventBroadcaster) -> None:
        async with (
            subject.subscribe(uuid.uuid4(), everything, 10) as one,
            subject.subscribe(uuid.uuid4(), everything, 10) as two,
        ):
            await subject.stop()
            assert [await one.next(WAIT), await two.next(WAIT)] == [Signal.CLOSED] * 2
            async with subject.subscribe(uuid.uuid4(), everything, 10) as late:
                assert await late.next(WAIT) is Signal.CLOSED


class TestInMemoryBroadcaster(BroadcasterContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[EventBroadcaster]:
        subject = InMemoryEventBroadcaster()
        await subject.start()
        yield subject
        await subject.stop()


def redis_broadcaster(url: str) -> RedisEventBroadcaster:
    return RedisEventBroadcaster(build_redis_client(url), build_redis_client(url), max_backoff=0.2)


async def started(subject: RedisEventBroadcaster) -> RedisEventBroadcaster:
    await subject.start()
    await asyncio.wait_for(subject.subscribed.wait(), WAIT)
    return subject


class TestRedisBroadcaster(BroadcasterContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[EventBroadcaster]:
        subject = await started(redis_broadcaster(redis_server_url()))
        yield subject
        await subject.stop()

    async def test_another_process_hears_and_the_publisher_hears_once(self) -> None:
        here = await started(redis_broadcaster(redis_server_url()))
        there = await started(redis_broadcaster(redis_server_url()))
        ws = uuid.uuid4()
        try:
            async with (
                here.subscribe(ws, everything, 10) as mine,
                there.subscribe(ws, everything, 10) as theirs,
            ):
                published = [event(ws), event(ws)]
                here.publish(published)
                assert await received(theirs, 2) == published
                assert await received(mine, 2) == published
                # The copy that comes back to `here` through Redis is not queued again.
                assert await mine.next(0.3) is None
        finally:
            await here.stop()
            await there.stop()

    async def test_a_process_subscribes_only_to_the_workspaces_it_streams(self) -> None:
        subject = await started(redis_broadcaster(redis_server_url()))
        raw = build_redis_client(redis_server_url())
        ws = uuid.uuid4()

        async def listeners() -> int:
            counts = await raw.pubsub_numsub(channel_of(ws))
            return int(counts[0][1])

        try:
            assert await listeners() == 0
            async with subject.subscribe(ws, everything, 10), subject.subscribe(ws, everything, 1):
                assert await listeners() == 1  # one connection per process, however many streams
            await until(lambda: listeners(), 0)
        finally:
            await subject.stop()
            await raw.aclose()

    async def test_a_malformed_message_is_ignored(self) -> None:
        subject = await started(redis_broadcaster(redis_server_url()))
        raw = build_redis_client(redis_server_url())
        ws = uuid.uuid4()
        try:
            async with subject.subscribe(ws, everything, 10) as subscription:
                good = event(ws)
                await raw.publish(channel_of(ws), "other-process\nnot json\n" + good.encode())
                await raw.publish(channel_of(ws), "no events at all")
                assert await received(subscription, 1) == [good]
        finally:
            await subject.stop()
            await raw.aclose()

    async def test_without_redis_this_process_still_hears(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        subject = redis_broadcaster(f"redis://127.0.0.1:{closed_port()}/0")
        await subject.start()
        ws = uuid.uuid4()
        try:
            async with subject.subscribe(ws, everything, 10) as subscription:
                published = event(ws)
                subject.publish([published])
                assert await received(subscription, 1) == [published]
                assert not subject.subscribed.is_set()
                for _ in range(100):
                    if any(r.levelno == logging.WARNING for r in caplog.records):
                        break
                    await asyncio.sleep(0.02)
        finally:
            await asyncio.wait_for(subject.stop(), WAIT)
        assert any(r.levelno == logging.WARNING for r in caplog.records)

    async def test_after_an_outage_streams_are_told_they_may_have_missed_events(self) -> None:
        relay = Relay(redis_server_url())
        await relay.up()
        subject = await started(redis_broadcaster(relay.url()))
        publisher = await started(redis_broadcaster(redis_server_url()))
        ws = uuid.uuid4()
        try:
            async with subject.subscribe(ws, everything, 10) as subscription:
                await relay.down()  # a restart: every connection cut
                publisher.publish([event(ws)])  # published while this process was cut off
                await asyncio.sleep(0.2)
                await relay.up()
                assert await subscription.next(WAIT) is Signal.MISSED
                after = event(ws)
                publisher.publish([after])
                assert await received(subscription, 1) == [after]
        finally:
            await subject.stop()
            await publisher.stop()
            await relay.down()


async def until(value: Callable[[], Awaitable[int]], expected: int) -> None:
    for _ in range(100):
        if await value() == expected:
            return
        await asyncio.sleep(0.02)
    assert await value() == expected


def domain_event(workspace_id: UUID, at: datetime, event_id: UUID | None = None) -> ContactCreated:
    return ContactCreated(
        id=event_id or uuid.uuid4(),
        workspace_id=workspace_id,
        aggregate_id=uuid.uuid4(),
        occurred_at=at,
        actor_id=None,
        payload={"first_name": "Ada"},
    )


@dataclass
class World:
    storage: bootstrap.Storage
    workspace_id: UUID

    async def record(self, *events: DomainEvent) -> None:
        async with self.storage.uow() as uow:
            await uow.outbox.add(events)
            await uow.commit()

    @property
    def replay(self) -> EventReplay:
        return self.storage.replay


class StorageContract:
    """Each subclass provides `world` over its storage."""

    async def test_position_finds_only_the_workspace_s_events(self, world: World) -> None:
        mine, theirs = domain_event(world.workspace_id, T0), domain_event(uuid.uuid4(), T0)
        await world.record(mine, theirs)
        assert await world.replay.position(world.workspace_id, mine.id) == EventPosition(
            T0, mine.id
        )
        assert await world.replay.position(world.workspace_id, theirs.id) is None
        assert await world.replay.position(world.workspace_id, uuid.uuid4()) is None

    async def test_after_is_in_occurrence_order_ties_by_id_and_limited(self, world: World) -> None:
        ws, later = world.workspace_id, T0 + timedelta(seconds=1)
        tied = sorted([uuid.uuid4(), uuid.uuid4()])
        events = [
            domain_event(ws, later, tied[1]),
            domain_event(ws, T0),
            domain_event(ws, later, tied[0]),
            domain_event(ws, later + timedelta(seconds=1)),
            domain_event(uuid.uuid4(), later),
        ]
        await world.record(*events)
        start = EventPosition(T0, events[1].id)
        found = await world.replay.after(ws, start, 10)
        assert [e.id for e in found] == [tied[0], tied[1], events[3].id]
        assert found[0] == PublishedEvent.of(events[2])
        assert [e.id for e in await world.replay.after(ws, start, 2)] == tied

    async def test_a_commit_reports_its_events_once_a_rollback_none(self, world: World) -> None:
        heard: list[list[DomainEvent]] = []
        world.storage.committed.listen(lambda events: heard.append(list(events)))
        kept, dropped = domain_event(world.workspace_id, T0), domain_event(world.workspace_id, T0)
        async with world.storage.uow() as uow:
            await uow.outbox.add([kept])
            await uow.commit()
        async with world.storage.uow() as uow:
            await uow.outbox.add([dropped])
        assert heard == [[kept]]


class TestMemoryStorage(StorageContract):
    @pytest_asyncio.fixture
    async def world(self) -> AsyncIterator[World]:
        yield World(bootstrap.memory_storage(), uuid.uuid4())


class TestPostgresStorage(StorageContract):
    @pytest_asyncio.fixture
    async def world(self, database_url: str) -> AsyncIterator[World]:
        storage = bootstrap.postgres_storage(database_url, 2)
        for hook in storage.on_start:
            await hook()
        ws = Workspace(uuid.uuid4(), "Acme", T0)
        async with storage.uow() as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        yield World(storage, ws.id)
        for hook in storage.on_stop:
            await hook()

    async def test_an_idempotent_request_reports_only_once_its_claim_committed(
        self, world: World
    ) -> None:
        heard: list[list[DomainEvent]] = []
        world.storage.committed.listen(lambda events: heard.append(list(events)))
        store = world.storage.idempotency(SystemClock(), timedelta(hours=1))
        kept, dropped = domain_event(world.workspace_id, T0), domain_event(world.workspace_id, T0)
        for name, recorded, complete in (("kept", kept, True), ("dropped", dropped, False)):
            key = IdempotencyKey(world.workspace_id, uuid.uuid4(), name, b"f" * 32)
            async with store.claim(key) as claim:
                async with world.storage.uow() as uow:
                    await uow.outbox.add([recorded])
                    await uow.commit()
                assert heard == ([] if name == "kept" else [[kept]])  # a savepoint, not yet
                if complete:
                    await claim.complete(StoredResponse(201, (), b"{}"))
        assert heard == [[kept]]
