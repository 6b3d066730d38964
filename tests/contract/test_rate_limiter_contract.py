"""One contract for the RateLimiter port, run against the in-memory and the Redis adapters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from crm.adapters.memory.rate_limiter import InMemoryRateLimiter
from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.rate_limiter import RedisRateLimiter, default_block_size
from crm.ports.rate_limiter import RateLimitDecision, RateLimiter
from tests.support.servers import redis_server_url

WINDOW = 60.0
# A window starts here, so moving the clock by less than WINDOW stays in the same window.
WINDOW_START = 1_800_000_000.0


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, now: float = WINDOW_START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeLimiter = Callable[[int, float, FakeClock], RateLimiter]
MakeRedisLimiter = Callable[..., RedisRateLimiter]


async def take(limiter: RateLimiter, key: str, times: int) -> list[RateLimitDecision]:
    return [await limiter.acquire(key) for _ in range(times)]


async def eventually_counter(redis: Redis, name: str, expected: int) -> int:
    """The counter once background leases settle (it is returned as found after 2 s)."""
    for _ in range(200):
        if (found := await counter(redis, name)) == expected:
            return found
        await asyncio.sleep(0.01)
    return await counter(redis, name)


async def counter(redis: Redis, name: str) -> int:
    value = await redis.get(name)
    assert value is not None, f"no counter {name}"
    return int(value)


class RateLimiterContract:
    """Each subclass provides `make_limiter` for its adapter, from the fixtures it needs."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    async def test_allows_up_to_the_limit_then_denies(
        self, make_limiter: MakeLimiter, clock: FakeClock
    ) -> None:
        limiter = make_limiter(3, WINDOW, clock)
        clock.advance(15)
        decisions = await take(limiter, "k", 5)
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
        assert {d.limit for d in decisions} == {3}
        assert all(not d.degraded for d in decisions)
        assert all(d.reset_after == pytest.approx(45) for d in decisions)

    async def test_reset_after_is_within_the_window(
        self, make_limiter: MakeLimiter, clock: FakeClock
    ) -> None:
        limiter = make_limiter(1, WINDOW, clock)
        at_start = await limiter.acquire("k")
        clock.advance(WINDOW - 0.001)
        at_end = await limiter.acquire("k")
        assert at_start.reset_after == pytest.approx(WINDOW)
        assert 0 < at_end.reset_after <= WINDOW
        assert at_end.reset_after == pytest.approx(0.001, abs=1e-6)
        assert not at_end.allowed

    async def test_a_new_window_starts_afresh(
        self, make_limiter: MakeLimiter, clock: FakeClock
    ) -> None:
        limiter = make_limiter(2, WINDOW, clock)
        first = await take(limiter, "k", 3)
        clock.advance(WINDOW)
        second = await take(limiter, "k", 3)
        assert [d.allowed for d in first] == [True, True, False]
        assert [d.allowed for d in second] == [True, True, False]
        assert [d.remaining for d in second] == [1, 0, 0]

    async def test_keys_are_independent(self, make_limiter: MakeLimiter, clock: FakeClock) -> None:
        limiter = make_limiter(2, WINDOW, clock)
        spent = await take(limiter, "a", 3)
        other = await take(limiter, "b", 2)
        assert [d.allowed for d in spent] == [True, True, False]
        assert [(d.allowed, d.remaining) for d in other] == [(True, 1), (True, 0)]

    async def test_remaining_counts_down_from_the_limit(
        self, make_limiter: MakeLimiter, clock: FakeClock
    ) -> None:
        limiter = make_limiter(250, WINDOW, clock)
        decisions = await take(limiter, "k", 251)
        assert [d.remaining for d in decisions] == [*range(249, -1, -1), 0]
        assert [d.allowed for d in decisions] == [True] * 250 + [False]

    @pytest.mark.parametrize("limit", [1, 7, 120])
    async def test_concurrent_acquires_grant_exactly_the_limit(
        self, make_limiter: MakeLimiter, clock: FakeClock, limit: int
    ) -> None:
        limiter = make_limiter(limit, WINDOW, clock)
        decisions = await asyncio.gather(*(limiter.acquire("k") for _ in range(3 * limit)))
        allowed = [d for d in decisions if d.allowed]
        assert len(allowed) == limit
        assert sorted(d.remaining for d in allowed) == list(range(limit))
        assert all(d.remaining == 0 for d in decisions if not d.allowed)


class TestInMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def make_limiter(self) -> MakeLimiter:
        return InMemoryRateLimiter


class TestRedisRateLimiter(RateLimiterContract):
    @pytest.fixture
    def prefix(self) -> str:
        # A fresh prefix per test: counters of other tests (and runs) are never seen.
        return f"crm:test:rl:{uuid.uuid4().hex}:"

    @pytest_asyncio.fixture
    async def redis(self) -> AsyncIterator[Redis]:
        client = build_redis_client(redis_server_url())
        yield client
        await client.aclose()

    @pytest_asyncio.fixture
    async def make_redis_limiter(self, prefix: str) -> AsyncIterator[MakeRedisLimiter]:
        made: list[RedisRateLimiter] = []

        def make(limit: int, clock: FakeClock, block_size: int | None = None) -> RedisRateLimiter:
            client = build_redis_client(redis_server_url())
            made.append(RedisRateLimiter(client, limit, WINDOW, prefix, block_size, clock))
            return made[-1]

        yield make
        for limiter in made:
            await limiter.close()

    @pytest.fixture
    def make_limiter(self, make_redis_limiter: MakeRedisLimiter) -> MakeLimiter:
        def make(limit: int, window_seconds: float, clock: FakeClock) -> RateLimiter:
            assert window_seconds == WINDOW
            return make_redis_limiter(limit, clock)

        return make

    @pytest.mark.parametrize("block_size", [100, 64])
    async def test_two_processes_share_one_limit_exactly(
        self, make_redis_limiter: MakeRedisLimiter, clock: FakeClock, block_size: int
    ) -> None:
        first = make_redis_limiter(1000, clock, block_size)
        second = make_redis_limiter(1000, clock, block_size)
        decisions = await asyncio.gather(
            *(limiter.acquire("k") for _ in range(800) for limiter in (first, second))
        )
        assert sum(d.allowed for d in decisions) == 1000
        clock.advance(WINDOW)
        assert (await second.acquire("k")).allowed

    async def test_requests_are_served_from_a_leased_block_and_the_next_is_leased_ahead(
        self, make_redis_limiter: MakeRedisLimiter, clock: FakeClock, redis: Redis, prefix: str
    ) -> None:
        limiter = make_redis_limiter(1000, clock, 100)
        name = f"{prefix}k:{int(WINDOW_START // WINDOW)}"
        await take(limiter, "k", 74)
        assert await counter(redis, name) == 100
        # A quarter of the block left: the next block is leased in the background, so no
        # request waits for Redis at the block boundary.
        await take(limiter, "k", 1)
        assert await eventually_counter(redis, name, 200) == 200
        await take(limiter, "k", 100)
        assert await counter(redis, name) == 200
        assert 0 < await redis.pttl(name) <= 2 * WINDOW * 1000

    async def test_concurrent_callers_wait_for_one_lease(
        self, make_redis_limiter: MakeRedisLimiter, clock: FakeClock, redis: Redis, prefix: str
    ) -> None:
        limiter = make_redis_limiter(1000, clock, 100)
        decisions = await asyncio.gather(*(limiter.acquire("k") for _ in range(100)))
        assert all(d.allowed for d in decisions)
        # One block for the hundred callers, and one leased ahead: not a round trip each.
        name = f"{prefix}k:{int(WINDOW_START // WINDOW)}"
        assert await eventually_counter(redis, name, 200) == 200

    async def test_a_spent_window_is_refused_without_asking_redis_again(
        self, make_redis_limiter: MakeRedisLimiter, clock: FakeClock, redis: Redis, prefix: str
    ) -> None:
        limiter = make_redis_limiter(5, clock)
        await take(limiter, "k", 5)
        # Were the limiter to ask Redis again, this reset counter would grant new tokens.
        await redis.set(f"{prefix}k:{int(WINDOW_START // WINDOW)}", 0)
        assert not (await limiter.acquire("k")).allowed

    async def test_a_small_limit_is_leased_one_token_at_a_time(
        self, make_redis_limiter: MakeRedisLimiter, clock: FakeClock
    ) -> None:
        first, second = make_redis_limiter(4, clock), make_redis_limiter(4, clock)
        decisions = [await (first if i % 2 else second).acquire("k") for i in range(6)]
        assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
        assert [d.remaining for d in decisions] == [3, 2, 1, 0, 0, 0]
        assert default_block_size(4) == 1
