"""SendBatcher: concurrent sends gathered into the queue's batches, each caller answered
only once its message is in the queue (or with the send's error)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from crm.adapters.memory.queue import InMemoryMessageQueue
from crm.domain.errors import ServiceUnavailable
from crm.domain.use_cases.send_batcher import SendBatcher
from crm.ports.message_queue import OutgoingMessage


class CountingQueue(InMemoryMessageQueue):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(max_receives=5)
        self.batches: list[int] = []
        self.fail = fail

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        self.batches.append(len(messages))
        await asyncio.sleep(0.001)
        if self.fail:
            raise ServiceUnavailable("SQS is down")
        await super().send(messages)


def one(n: int, body: str = "x") -> list[OutgoingMessage]:
    return [OutgoingMessage(f"m{n}", f"{body}{n}")]


async def test_concurrent_sends_go_ten_at_a_time_and_all_arrive() -> None:
    queue = CountingQueue()
    batcher = SendBatcher(queue)
    await asyncio.gather(*(batcher.send(one(n)) for n in range(25)))
    assert sorted(queue.batches) == [5, 10, 10]
    received = await queue.receive(10, 0, 30)
    received += await queue.receive(10, 0, 30)
    received += await queue.receive(10, 0, 30)
    assert sorted(m.body for m in received) == sorted(f"x{n}" for n in range(25))


async def test_a_lone_send_goes_after_the_linger() -> None:
    queue = CountingQueue()
    await asyncio.wait_for(SendBatcher(queue, linger=0.01).send(one(1)), timeout=1)
    assert queue.batches == [1]


async def test_a_failed_send_fails_every_caller_in_its_batch_and_no_other() -> None:
    queue = CountingQueue(fail=True)
    batcher = SendBatcher(queue)
    results = await asyncio.gather(
        *(batcher.send(one(n)) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ServiceUnavailable) for r in results)
    queue.fail = False
    await batcher.send(one(9))  # the next batch is unaffected
    assert queue.batches == [3, 1]


async def test_a_batch_never_carries_more_than_its_bytes() -> None:
    queue = CountingQueue()
    batcher = SendBatcher(queue)
    big = "y" * 150_000
    await asyncio.gather(batcher.send(one(1, big)), batcher.send(one(2, big)))
    assert queue.batches == [1, 1]


async def test_close_sends_what_waits() -> None:
    queue = CountingQueue()
    batcher = SendBatcher(queue, linger=60)
    waiting = asyncio.ensure_future(batcher.send(one(1)))
    await asyncio.sleep(0)
    await batcher.close()
    await asyncio.wait_for(waiting, timeout=1)
    assert queue.batches == [1]


async def test_nothing_to_send_returns_at_once() -> None:
    queue = CountingQueue()
    await SendBatcher(queue).send([])
    assert queue.batches == []
