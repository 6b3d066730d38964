"""The pool's turn queue: first come first served, a bounded wait, cancellation hands on."""

from __future__ import annotations

import asyncio

import pytest

from crm.adapters.postgres.engine import Turns
from crm.domain.errors import DatabaseUnavailable


async def test_waiters_are_served_in_arrival_order_and_newcomers_do_not_overtake() -> None:
    turns = Turns(1, wait=5.0)
    await turns.acquire()
    served: list[int] = []

    async def take(n: int) -> None:
        async with turns:
            served.append(n)
            await asyncio.sleep(0)

    waiting = [asyncio.create_task(take(n)) for n in range(5)]
    await asyncio.sleep(0)
    turns.release()
    late = asyncio.create_task(take(99))
    await asyncio.gather(*waiting, late)
    assert served == [0, 1, 2, 3, 4, 99]
    assert turns.free == 1


async def test_a_waiter_past_the_wait_is_refused_and_others_keep_their_turn() -> None:
    turns = Turns(1, wait=0.05)
    await turns.acquire()
    first = asyncio.create_task(turns.acquire())
    await asyncio.sleep(0.03)
    second = asyncio.create_task(turns.acquire())
    with pytest.raises(DatabaseUnavailable, match=r"within 0\.05 s"):
        await first
    assert not second.done()
    turns.release()
    await second  # it got the turn within its own wait
    assert turns.locked()
    turns.release()
    assert turns.free == 1


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    turns = Turns(1, wait=5.0)
    await turns.acquire()
    cancelled = asyncio.create_task(turns.acquire())
    after = asyncio.create_task(turns.acquire())
    await asyncio.sleep(0)
    turns.release()  # handed to `cancelled`, which is cancelled before it runs
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(after, 1)
    turns.release()
    assert turns.free == 1
