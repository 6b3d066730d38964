"""One contract for the MessageQueue port, run against the in-process queue and SQS (moto's
server, started by the test harness on a free port)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from crm.adapters.memory.queue import InMemoryMessageQueue
from crm.adapters.sqs.client import SqsEndpoint, open_client
from crm.adapters.sqs.queue import SqsMessageQueue
from crm.domain.errors import ServiceUnavailable
from crm.ports.message_queue import MessageQueue, OutgoingMessage, QueueMissing, ReceivedMessage
from tests.support.moto import new_event_queues
from tests.support.servers import free_port

MAX_RECEIVES = 3


def messages(*bodies: str) -> list[OutgoingMessage]:
    return [OutgoingMessage(f"m{i}", body) for i, body in enumerate(bodies)]


async def receive_all(
    queue: MessageQueue, expected: int, visibility: int = 30, within: float = 5.0
) -> list[ReceivedMessage]:
    """Receive until `expected` messages came (SQS may hand out fewer per call)."""
    found: list[ReceivedMessage] = []
    deadline = time.monotonic() + within
    while len(found) < expected and time.monotonic() < deadline:
        found += await queue.receive(10, 1, visibility)
    return found


class MessageQueueContract:
    """Each subclass provides `queue` for its adapter, from the fixtures that adapter needs."""

    async def test_sent_messages_arrive_once_each_with_a_first_receive_count(
        self, queue: MessageQueue
    ) -> None:
        await queue.send(messages("a", "b", "ü 😀 " + "x" * 2000))
        got = await receive_all(queue, 3)
        assert sorted(m.body for m in got) == sorted(["a", "b", "ü 😀 " + "x" * 2000])
        assert [m.receive_count for m in got] == [1, 1, 1]
        assert len({m.message_id for m in got}) == len({m.receipt for m in got}) == 3
        assert all(m.sent_at is not None for m in got)
        assert await queue.receive(10, 0, 30) == []  # all hidden while in flight

    async def test_batches_hold_one_to_ten_messages(self, queue: MessageQueue) -> None:
        with pytest.raises(ValueError, match="1 to 10"):
            await queue.send(messages(*"abcdefghijk"))
        with pytest.raises(ValueError, match="1 to 10"):
            await queue.send([])
        with pytest.raises(ValueError, match="1 to 10"):
            await queue.receive(11, 0, 30)
        with pytest.raises(ValueError, match="distinct ids"):
            await queue.send([OutgoingMessage("same", "a"), OutgoingMessage("same", "b")])
        await queue.send(messages(*"abcdefghij"))
        got = await receive_all(queue, 10)
        assert len(got) == 10

    async def test_visibility_hides_releases_and_extends(self, queue: MessageQueue) -> None:
        await queue.send(messages("v"))
        (first,) = await receive_all(queue, 1, visibility=1)
        assert await queue.receive(10, 0, 1) == []
        await queue.change_visibility(first.receipt, 0)  # released: visible at once
        (second,) = await receive_all(queue, 1, visibility=1)
        assert (second.message_id, second.receive_count) == (first.message_id, 2)
        await queue.change_visibility(second.receipt, 2)  # extended past its 1 s
        await asyncio.sleep(1.2)
        assert await queue.receive(10, 0, 30) == []
        (third,) = await receive_all(queue, 1, within=3)  # shows again when it runs out
        assert (third.body, third.receive_count) == ("v", 3)

    async def test_deleted_messages_never_come_back(self, queue: MessageQueue) -> None:
        await queue.send(messages("gone", "kept"))
        got = await receive_all(queue, 2, visibility=1)
        await queue.delete([m.receipt for m in got if m.body == "gone"])
        await asyncio.sleep(1.2)
        again = await receive_all(queue, 1)
        assert [m.body for m in again] == ["kept"]
        assert await queue.receive(10, 0, 30) == []

    async def test_a_long_poll_returns_as_soon_as_a_message_arrives(
        self, queue: MessageQueue
    ) -> None:
        started = time.monotonic()
        waiting = asyncio.ensure_future(queue.receive(10, 10, 30))
        await asyncio.sleep(0.3)
        await queue.send(messages("late"))
        got = await asyncio.wait_for(waiting, 5)
        assert [m.body for m in got] == ["late"]
        assert time.monotonic() - started < 5

    async def test_after_max_receives_a_message_is_a_dead_letter_until_redriven(
        self, queue: MessageQueue
    ) -> None:
        await queue.send(messages("poison"))
        for receive in range(1, MAX_RECEIVES + 1):
            (got,) = await receive_all(queue, 1, visibility=0)  # failed: visible again at once
            assert (got.body, got.receive_count) == ("poison", receive)
        assert await queue.receive(10, 1, 0) == []  # one receive too many: moved
        listed = await queue.dead_letters(10)
        assert [m.body for m in listed] == ["poison"]
        assert listed[0].receive_count > MAX_RECEIVES
        assert [m.body for m in await queue.dead_letters(1)] == ["poison"]  # left in it
        assert await queue.redrive() == 1
        (back,) = await receive_all(queue, 1)
        assert (back.body, back.receive_count) == ("poison", 1)
        assert await queue.dead_letters(1) == []


class TestInMemoryMessageQueue(MessageQueueContract):
    @pytest.fixture
    def queue(self) -> MessageQueue:
        return InMemoryMessageQueue(max_receives=MAX_RECEIVES)


class TestSqsMessageQueue(MessageQueueContract):
    @pytest_asyncio.fixture
    async def queue(self, sqs_endpoint: SqsEndpoint) -> AsyncIterator[MessageQueue]:
        made = await new_event_queues(sqs_endpoint, max_receives=MAX_RECEIVES)
        queue = SqsMessageQueue(made.name, sqs_endpoint)
        await queue.open()
        yield queue
        await queue.close()


class TestSqsErrors:
    """botocore's failures arrive as port errors, each saying what to do."""

    async def test_a_missing_queue_or_dead_letter_queue_says_to_create_them(
        self, sqs_endpoint: SqsEndpoint
    ) -> None:
        async with open_client(sqs_endpoint) as sqs:
            await sqs.create_queue(QueueName="crm-test-no-redrive")
        calls: list[tuple[str, Callable[[SqsMessageQueue], Awaitable[object]]]] = [
            ("crm-test-never-made", lambda q: q.send(messages("x"))),
            ("crm-test-no-redrive", lambda q: q.dead_letters(1)),
        ]
        for name, call in calls:
            queue = SqsMessageQueue(name, sqs_endpoint)
            await queue.open()
            try:
                with pytest.raises(QueueMissing, match="crm aws create-resources"):
                    await call(queue)
            finally:
                await queue.close()

    async def test_an_unreachable_endpoint_is_service_unavailable(self) -> None:
        queue = SqsMessageQueue(
            "http://127.0.0.1:1/000000000000/q",
            SqsEndpoint("us-east-1", f"http://127.0.0.1:{free_port()}"),
        )
        await queue.open()
        try:
            with pytest.raises(ServiceUnavailable, match="SQS receive"):
                await queue.receive(1, 0, 30)
        finally:
            await queue.close()
