"""The consumers on the in-process queue and the memory store: delete on success, retry on
failure, dead letters after N receives, visibility kept while a handler runs, idempotency by
event id per handler, the handler registry; and the relay and purge on memory."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.queue import InMemoryMessageQueue
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.domain.model.delivery import MalformedEvent, PublishedEvent, topic_matches
from crm.domain.model.events import ContactCreated, DomainEvent
from crm.domain.use_cases.consume_events import ConsumeEvents, ConsumerOptions
from crm.domain.use_cases.dead_letters import DeadLetters
from crm.domain.use_cases.event_handlers import HandlerRegistry
from crm.domain.use_cases.purge_outbox import PurgeOutbox
from crm.domain.use_cases.relay_outbox import RelayOutbox
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

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def handle_in(self, tx: UnitOfWork, event: PublishedEvent) -> None:
        await tx.tags.ensure(event.workspace_id, [f"seen-{event.id.hex[:8]}"], NOW)
        if self.fail:
            raise RuntimeError("after writing")


class World:
    def __init__(self, visibility: int = 30) -> None:
        self.store = MemoryStore()
        self.queue = InMemoryMessageQueue(max_receives=MAX_RECEIVES)
        self.handlers = HandlerRegistry()
        self.clock = ManualClock(NOW)
        options = ConsumerOptions(
            wait_seconds=0.05, visibility_timeout=visibility, retry_base_seconds=0
        )
        self.consumer = ConsumeEvents(self.queue, self.uow, self.clock, self.handlers, options)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def publish(self, *events: PublishedEvent) -> None:
        await self.queue.send([OutgoingMessage(str(e.id), e.encode()) for e in events])

    async def left(self) -> int:
        """Messages still in the queue (received now and released again)."""
        got = await self.queue.receive(10, 0, 0)
        return len(got)


def test_the_message_format_round_trips_and_refuses_anything_else() -> None:
    e = event(changes={"first_name": {"old": "Ada", "new": "Ádá"}})
    assert PublishedEvent.decode(e.encode()) == e
    for body in (
        "",
        "[]",
        '{"format": 2}',
        e.encode().replace('"format":1', '"format":9'),
        e.encode().replace(str(e.id), "nope"),
    ):
        with pytest.raises(MalformedEvent):
            PublishedEvent.decode(body)


def test_patterns_match_exactly_by_prefix_or_everything() -> None:
    assert topic_matches("*", "deal.moved")
    assert topic_matches("contact.*", "contact.company_linked")
    assert not topic_matches("contact.*", "company.created")
    assert topic_matches("deal.moved", "deal.moved")
    assert not topic_matches("deal.moved", "deal.moved_back")


def test_the_registry_runs_each_handler_once_and_refuses_clashes() -> None:
    registry, a, b = HandlerRegistry(), Recorder("a"), Recorder("b")
    registry.subscribe("contact.*", a)
    registry.subscribe("*", a)
    registry.subscribe("contact.created", b)
    assert registry.handlers_for("contact.created") == [a, b]
    assert registry.handlers_for("deal.moved") == [a]
    with pytest.raises(ValueError, match="two handlers"):
        registry.subscribe("*", Recorder("a"))
    for bad in ("", "contact.", "*.created", "Contact.*", "contact.**"):
        with pytest.raises(ValueError, match="not an event type pattern"):
            registry.subscribe(bad, Recorder("c"))


async def test_a_handled_message_is_deleted_and_its_handler_recorded() -> None:
    w, recorder = World(), Recorder()
    w.handlers.subscribe("contact.*", recorder)
    sent = event(first_name="Ada")
    await w.publish(sent)
    assert await w.consumer.execute() == 1
    assert recorder.done == [sent]
    assert await w.left() == 0
    async with w.uow() as tx:
        assert await tx.processed_events.seen("recorder", sent.id)


async def test_a_message_no_handler_wants_is_deleted() -> None:
    w = World()
    w.handlers.subscribe("deal.*", Recorder())
    await w.publish(event())
    await w.consumer.execute()
    assert await w.left() == 0


async def test_a_failing_handler_is_retried_and_the_others_do_not_run_twice() -> None:
    w, flaky, steady = World(), Recorder("flaky", failures=1), Recorder("steady")
    w.handlers.subscribe("*", steady)
    w.handlers.subscribe("*", flaky)
    sent = event()
    await w.publish(sent)
    await w.consumer.execute()  # steady succeeds, flaky fails: the message stays
    assert (steady.calls, flaky.calls, flaky.done) == ([sent.id], [sent.id], [])
    await w.consumer.execute()  # shown again at once (backoff 0): only flaky runs
    assert (steady.calls, flaky.done) == ([sent.id], [sent])
    assert await w.left() == 0


async def test_after_max_receives_the_message_is_a_dead_letter_and_can_be_redriven() -> None:
    w, broken = World(), Recorder("broken", failures=MAX_RECEIVES)
    w.handlers.subscribe("*", broken)
    sent = event()
    await w.publish(sent)
    for _ in range(MAX_RECEIVES + 1):
        await w.consumer.execute()
    assert len(broken.calls) == MAX_RECEIVES
    dead = DeadLetters(w.queue)
    (letter,) = await dead.list()
    assert (letter.event_id, letter.event_type) == (sent.id, "contact.created")
    assert letter.receive_count > MAX_RECEIVES
    assert await dead.redrive() == 1
    await w.consumer.execute()
    assert broken.done == [sent]
    assert await dead.list() == []


async def test_a_malformed_message_goes_to_the_dead_letters_as_it_is() -> None:
    w = World()
    await w.queue.send([OutgoingMessage("x", "not json")])
    for _ in range(MAX_RECEIVES + 1):
        await w.consumer.execute()
    (letter,) = await DeadLetters(w.queue).list()
    assert (letter.event_id, letter.raw) == (None, "not json")


async def test_a_slow_handler_keeps_its_message_hidden_from_other_consumers() -> None:
    w, slow = World(visibility=1), Recorder("slow", delay=2.2)
    w.handlers.subscribe("*", slow)
    await w.publish(event())
    running = asyncio.ensure_future(w.consumer.execute())
    await asyncio.sleep(0.2)
    other = ConsumeEvents(
        w.queue, w.uow, w.clock, w.handlers, ConsumerOptions(wait_seconds=2.5, visibility_timeout=1)
    )
    assert await other.execute() == 0  # 2.5 s of polling while the 1 s timeout is extended
    await running
    assert len(slow.calls) == 1
    assert await w.left() == 0


async def test_an_event_delivered_twice_is_handled_once_per_handler() -> None:
    w, recorder = World(), Recorder()
    w.handlers.subscribe("*", recorder)
    w.handlers.subscribe("*", Tagger())
    sent = event()
    await w.publish(sent)
    await w.consumer.execute()
    await w.publish(sent)  # e.g. the relay crashed after sending and sent it again
    await w.consumer.execute()
    assert recorder.calls == [sent.id]
    assert await w.left() == 0
    tags = [t.name for t in w.store.state.tags.values()]
    assert tags == [f"seen-{sent.id.hex[:8]}"]


async def test_a_transactional_handler_commits_its_writes_with_the_processed_record() -> None:
    w, tagger = World(), Tagger(fail=True)
    w.handlers.subscribe("*", tagger)
    sent = event()
    await w.publish(sent)
    await w.consumer.execute()
    assert w.store.state.tags == {}  # rolled back with its processed record
    assert w.store.state.processed_events == {}
    tagger.fail = False
    await w.consumer.execute()
    assert len(w.store.state.tags) == 1
    assert set(w.store.state.processed_events) == {("tagger", sent.id)}


async def test_the_relay_publishes_in_order_and_marks_what_it_sent() -> None:
    w, recorder = World(), Recorder()
    w.handlers.subscribe("*", recorder)
    events = [event() for _ in range(25)]
    async with w.uow() as tx:
        await tx.outbox.add(
            ContactCreated(
                id=e.id,
                workspace_id=e.workspace_id,
                aggregate_id=e.aggregate_id,
                occurred_at=NOW + timedelta(seconds=i),
                actor_id=None,
            )
            for i, e in enumerate(reversed(events))
        )
        await tx.commit()
    relay = RelayOutbox(w.uow, w.queue, w.clock, batch_size=10)
    assert [await relay.execute() for _ in range(4)] == [10, 10, 5, 0]
    assert set(w.store.state.published) == {e.id for e in events}
    while await w.consumer.execute():
        pass
    assert Counter(recorder.calls) == Counter({e.id: 1 for e in events})


async def test_purge_keeps_everything_without_a_retention_and_never_unpublished_events() -> None:
    w = World()
    old = [event() for _ in range(3)]
    async with w.uow() as tx:
        await tx.outbox.add(
            ContactCreated(
                id=e.id,
                workspace_id=e.workspace_id,
                aggregate_id=e.aggregate_id,
                occurred_at=NOW - timedelta(days=30),
                actor_id=None,
            )
            for e in old
        )
        await tx.outbox_delivery.mark_published([old[0].id, old[1].id], NOW)
        await tx.processed_events.record("h", old[0].id, NOW - timedelta(days=20))
        await tx.processed_events.record("h", old[1].id, NOW - timedelta(days=1))
        await tx.commit()
    keep_all = await PurgeOutbox(w.uow, w.clock, None, timedelta(days=14), chunk=1).execute()
    assert (keep_all.events, keep_all.processed) == (0, 1)
    assert len(w.store.state.outbox) == 3
    assert set(w.store.state.processed_events) == {("h", old[1].id)}
    week = await PurgeOutbox(
        w.uow, w.clock, timedelta(days=7), timedelta(days=14), chunk=1
    ).execute()
    assert (week.events, week.processed) == (2, 0)
    assert [e.id for e in w.store.state.outbox] == [old[2].id]
