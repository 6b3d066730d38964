"""The Redis rate limiter when Redis is down: fail open, quickly, warn once, come back."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.health import RedisHealthCheck
from crm.adapters.redis.rate_limiter import RedisRateLimiter
from crm.domain.errors import ServiceUnavailable
from tests.support.servers import redis_server_url

START = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def closed_port() -> int:
    """A local TCP port nothing listens on (until a test starts something there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class RedisComingBack:
    """Redis reachable on `port` only once `start` is called: a TCP relay to the real one."""

    def __init__(self, port: int) -> None:
        self.port, self.connections = port, 0
        self._server: asyncio.Server | None = None
        self._relays: list[asyncio.Future[tuple[None, None]]] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Relays end when the limiter's client hangs up; wait for them to finish cleanly.
        await asyncio.wait_for(asyncio.gather(*self._relays), timeout=5)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        target = urlsplit(redis_server_url())
        redis_r, redis_w = await asyncio.open_connection(target.hostname, target.port or 6379)
        relay = asyncio.gather(_pipe(client_r, redis_w), _pipe(redis_r, client_w))
        self._relays.append(relay)
        await relay


def rate_limit_warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.name == "crm.ratelimit" and r.levelno == logging.WARNING for r in caplog.records)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def dead_limiter(clock: FakeClock) -> AsyncIterator[RedisRateLimiter]:
    client = build_redis_client(f"redis://127.0.0.1:{closed_port()}/0")
    limiter = RedisRateLimiter(client, 2, 60, clock=clock)
    yield limiter
    await limiter.close()


async def test_requests_pass_quickly_and_one_warning_per_interval(
    dead_limiter: RedisRateLimiter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="crm.ratelimit")
    started = time.perf_counter()
    decisions = [await dead_limiter.acquire("k") for _ in range(50)]
    for _ in range(20):
        clock.now += 1.5  # past retry_after_failure: each of these really tries Redis
        decisions.append(await dead_limiter.acquire("k"))
    elapsed = time.perf_counter() - started
    assert all(d.allowed and d.degraded for d in decisions)
    assert {d.limit for d in decisions} == {2}
    assert elapsed < 1.0
    assert rate_limit_warnings(caplog) == 1
    clock.now = START + 60
    assert (await dead_limiter.acquire("k")).degraded
    assert rate_limit_warnings(caplog) == 2


async def test_concurrent_requests_in_an_outage_all_pass(
    dead_limiter: RedisRateLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="crm.ratelimit")
    decisions = await asyncio.gather(*(dead_limiter.acquire(f"k{i % 3}") for i in range(300)))
    assert all(d.allowed and d.degraded for d in decisions)
    assert rate_limit_warnings(caplog) == 1


async def _never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()
    writer.close()


async def test_a_hanging_redis_costs_one_timeout_not_one_per_waiting_request(
    clock: FakeClock,
) -> None:
    server = await asyncio.start_server(_never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RedisRateLimiter(
        build_redis_client(f"redis://127.0.0.1:{port}/0"), 10, 60, clock=clock
    )
    started = time.perf_counter()
    try:
        decisions = await asyncio.gather(*(limiter.acquire("k") for _ in range(40)))
    finally:
        elapsed = time.perf_counter() - started
        await limiter.close()
        server.close()
        await server.wait_closed()
    assert all(d.allowed and d.degraded for d in decisions)
    assert 0.2 < elapsed < 1.0  # one socket timeout (0.25 s), shared by all 40 callers


async def test_redis_is_used_again_after_retry_after_failure(clock: FakeClock) -> None:
    redis = RedisComingBack(closed_port())
    client = build_redis_client(f"redis://127.0.0.1:{redis.port}/0")
    prefix = f"crm:test:rl:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(client, 2, 60, prefix, clock=clock, retry_after_failure=5)
    try:
        assert (await limiter.acquire("k")).degraded
        await redis.start()
        clock.now += 4.9
        assert (await limiter.acquire("k")).degraded
        assert redis.connections == 0  # backing off: Redis was not even tried
        clock.now += 0.2
        back = [await limiter.acquire("k") for _ in range(3)]
    finally:
        await limiter.close()
        await redis.stop()
    assert [(d.allowed, d.degraded) for d in back] == [(True, False), (True, False), (False, False)]
    assert redis.connections >= 1


async def test_health_check_names_redis_when_it_is_down() -> None:
    client = build_redis_client(f"redis://127.0.0.1:{closed_port()}/0")
    try:
        with pytest.raises(ServiceUnavailable, match=r"^redis: "):
            await RedisHealthCheck(client).check()
    finally:
        await client.aclose()


async def test_health_check_passes_when_redis_answers() -> None:
    client = build_redis_client(redis_server_url())
    try:
        await RedisHealthCheck(client).check()
    finally:
        await client.aclose()
