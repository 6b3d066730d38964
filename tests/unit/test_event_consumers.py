"""The consumers on the in-process queue and the memory store: delete on success, retry on
failure, dead letters after N receives, visibility kept while a handler runs, idempotency by
event id per handler."""

from __future__ import annotations

import asyncio

from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.domain.use_cases.consume_events import ConsumeEvents, ConsumerOptions
from crm.domain.use_cases.dead_letters import DeadLetters
from crm.ports.message_queue import OutgoingMessage
from tests.support.event_world import MAX_RECEIVES, BatchTagger, Recorder, Tagger, World, event


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


async def test_copies_of_an_event_received_together_are_handled_once() -> None:
    w, slow = World(), Recorder("slow", delay=0.05)
    w.handlers.subscribe("*", slow)
    sent, other = event(), event()
    for batch in ((sent, other), (sent,), (sent,)):  # a relay that sent it three times
        await w.publish(*batch)
    assert await w.consumer.execute() == 4
    assert sorted(slow.calls) == sorted([sent.id, other.id])
    assert await w.left() == 0


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


async def test_a_received_batch_runs_its_transactional_handlers_in_one_unit_of_work() -> None:
    w, tagger = World(), Tagger()
    w.handlers.subscribe("*", tagger)
    opened = 0

    def counting_uow() -> InMemoryUnitOfWork:
        nonlocal opened
        opened += 1
        return w.uow()

    w.consumer = ConsumeEvents(w.queue, counting_uow, w.clock, w.handlers, w.consumer_options)
    sent = [event() for _ in range(10)]
    await w.publish(*sent)
    assert await w.consumer.execute() == 10
    assert opened == 1
    assert set(w.store.state.processed_events) == {("tagger", e.id) for e in sent}
    assert len(w.store.state.tags) == 10
    assert await w.left() == 0


async def test_one_failing_event_in_a_batch_fails_alone() -> None:
    w = World()
    bad, *good = [event() for _ in range(5)]
    w.handlers.subscribe("*", Tagger(fail_on=frozenset({bad.id})))
    await w.publish(bad, *good)
    assert await w.consumer.execute() == 5
    assert set(w.store.state.processed_events) == {("tagger", e.id) for e in good}
    assert {t.name for t in w.store.state.tags.values()} == {f"seen-{e.id.hex[:8]}" for e in good}
    assert await w.left() == 1  # the bad one, shown again later


async def test_a_handler_that_takes_batches_gets_the_batch_once_without_copies() -> None:
    w, tagger = World(), BatchTagger()
    w.handlers.subscribe("*", tagger)
    first, second, third = event(), event(), event()
    await w.publish(first, second, third)
    await w.queue.send([OutgoingMessage("copy", second.encode())])  # the relay sent it twice
    assert await w.consumer.execute() == 4
    assert tagger.batches == [[first.id, second.id, third.id]]
    assert len(w.store.state.tags) == 3
    assert await w.left() == 0
