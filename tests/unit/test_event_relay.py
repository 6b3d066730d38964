"""The message format, the handler registry, the relay and the purge on the memory adapters."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from crm.domain.model.delivery import MalformedEvent, PublishedEvent, topic_matches
from crm.domain.model.events import ContactCreated
from crm.domain.use_cases.event_handlers import HandlerRegistry
from crm.domain.use_cases.purge_outbox import PurgeOutbox
from crm.domain.use_cases.relay_outbox import RelayOutbox
from tests.support.event_world import NOW, Recorder, World, event


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
