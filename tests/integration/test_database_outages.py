"""PostgreSQL stalled, unreachable or shutting down: 503 database_unavailable within the bounds,
never a 500 or a hang, and the same app serves again once the database is back.

Every test runs against a cluster of its module's own (never the shared server)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from crm.adapters.postgres import migrations
from crm.adapters.postgres.engine import DatabaseTimeouts, Turns, asyncpg_dsn
from crm.adapters.postgres.readers import ReadPool
from crm.domain.errors import DatabaseUnavailable
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.own_postgres import OwnPostgres

CONNECT, POOL, STATEMENT = 0.5, 0.5, 1.0
COMMAND = DatabaseTimeouts(CONNECT, POOL, STATEMENT).command
# The longest a request may take while the database is stalled: the wait for a free
# connection, then a new connection or an answer on a pooled one; with scheduling slack.
BOUND = POOL + max(CONNECT, COMMAND) + 1.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    try:
        pg.start()
        asyncio.run(_create_database(pg))
        migrations.upgrade(pg.url("crm"))
        yield pg
    finally:
        pg.destroy()


async def _create_database(pg: OwnPostgres) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(pg.url()))
    try:
        await conn.execute("CREATE DATABASE crm")
    finally:
        await conn.close()


@pytest.fixture
def pg(cluster: OwnPostgres) -> Iterator[OwnPostgres]:
    """The module's cluster, running and answering again after each test, whatever it did."""
    yield cluster
    try:
        cluster.resume()
    except FileNotFoundError:  # stopped: no postmaster.pid
        cluster.start()


def outage_settings(pg: OwnPostgres, **overrides: Any) -> Any:
    return settings_for_tests(
        pg.url("crm"),
        None,
        database_connect_timeout_seconds=CONNECT,
        database_pool_timeout_seconds=POOL,
        database_statement_timeout_seconds=STATEMENT,
        **overrides,
    )


def assert_database_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.request.method, r.request.url.path, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_unavailable", r.text
    assert int(r.headers["retry-after"]) >= 1


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = await call
    return r, time.monotonic() - started


async def served_again(call: Callable[[], Awaitable[httpx.Response]], status: int) -> None:
    """The same app answers `status` again within a few seconds, without a restart."""
    r = None
    for _ in range(50):
        r = await call()
        if r.status_code == status:
            return
        assert_database_unavailable(r)
        await asyncio.sleep(0.1)
    raise AssertionError(f"not served again: {r and r.text}")


async def test_a_stalled_database_answers_503_within_the_bounds_then_serves_again(
    pg: OwnPostgres,
) -> None:
    async with running_api(outage_settings(pg, auth_cache_ttl_seconds=60)) as api:
        known = await api.key("Known")  # authenticated before the stall: cached
        fresh = await api.key("Fresh")  # first seen during it: looked up in the database
        made = await api.client.post("/v1/contacts", json={"first_name": "A"}, headers=known)
        contact = f"/v1/contacts/{made.json()['id']}"
        calls: list[Callable[[], Awaitable[httpx.Response]]] = [
            lambda: api.client.get(contact, headers=known),
            lambda: api.client.get("/v1/contacts", headers=known),
            lambda: api.client.post("/v1/contacts", json={"first_name": "B"}, headers=known),
            lambda: api.client.post(
                "/v1/contacts",
                json={"first_name": "C"},
                headers={**known, "Idempotency-Key": uuid.uuid4().hex},
            ),
            lambda: api.client.get("/v1/contacts", headers=fresh),
        ]
        pg.stall()
        try:
            async with asyncio.timeout(BOUND + 3):
                ready, *answered = await asyncio.gather(
                    timed(api.client.get("/readyz")), *(timed(call()) for call in calls * 3)
                )
        finally:
            pg.resume()
        assert ready[0].status_code == 503
        assert ready[0].json()["code"] == "dependency_unavailable"
        assert ready[1] < 2.5, f"/readyz took {ready[1]:.2f} s"
        for r, elapsed in answered:
            assert_database_unavailable(r)
            assert elapsed < BOUND, f"{r.request.method} {r.request.url.path}: {elapsed:.2f} s"
        for call, status in zip(calls, (200, 200, 201, 201, 200), strict=True):
            await served_again(call, status)
        assert (await api.client.get("/readyz")).status_code == 200


async def test_an_app_started_while_the_database_is_stalled_answers_503_within_the_bounds(
    pg: OwnPostgres,
) -> None:
    """New connections to a server that never answers are bounded by the connect timeout."""
    async with running_api(outage_settings(pg)) as api:
        auth = await api.key()
    pg.stall()
    try:
        async with asyncio.timeout(3 * BOUND), running_api(outage_settings(pg)) as api:
            r, elapsed = await timed(api.client.get("/v1/contacts", headers=auth))
            assert_database_unavailable(r)
            assert elapsed < BOUND
            ready, elapsed = await timed(api.client.get("/readyz"))
            assert ready.status_code == 503
            assert elapsed < 2.5
            pg.resume()
            await served_again(lambda: api.client.get("/v1/contacts", headers=auth), 200)
    finally:
        pg.resume()


async def test_a_statement_over_the_statement_timeout_is_cancelled_by_the_server(
    pg: OwnPostgres,
) -> None:
    pool = ReadPool(asyncpg_dsn(pg.url("crm")), timeouts=DatabaseTimeouts(CONNECT, POOL, 0.3))
    await pool.open()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await pool.fetchrow("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 1.0  # the server's 0.3 s, not the client's 1.3 s
        row = await pool.fetchrow("SELECT 1 AS one")
        assert row is not None
        assert row["one"] == 1
    finally:
        await pool.close()


async def test_a_full_pool_is_waited_for_at_most_the_pool_timeout() -> None:
    turns = Turns(1, wait=0.2)
    await turns.acquire()
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="no connection came free"):
        await turns.acquire()
    assert 0.15 < time.monotonic() - started < 0.6
    turns.release()
    await turns.acquire()  # the timed-out waiter left no trace in the queue
    assert turns.locked()


@dataclass
class Load:
    """8 clients creating, reading and listing contacts in a loop, as a busy app would."""

    api: Api
    auth: dict[str, str]
    known: str
    answers: list[httpx.Response] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    running: bool = True
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    async def client(self) -> None:
        while self.running:
            n = next(self._numbers)
            r = await self._request(n)
            self.answers.append(r)
            if r.status_code == 201:
                self.written.append(r.json()["id"])
            if r.status_code == 503:
                await asyncio.sleep(0.02)  # a client backing off

    def _request(self, n: int) -> Awaitable[httpx.Response]:
        c, auth = self.api.client, self.auth
        body = {"first_name": f"L{n}", "emails": [f"l{n}@example.com"]}
        match n % 4:
            case 0:
                return c.post("/v1/contacts", json=body, headers=auth)
            case 1:
                key = {"Idempotency-Key": uuid.uuid4().hex}
                return c.post("/v1/contacts", json=body, headers={**auth, **key})
            case 2:
                return c.get(self.known, headers=auth)
            case _:
                return c.get("/v1/contacts?limit=5", headers=auth)

    def served_since(self, start: int) -> int:
        return sum(r.status_code < 300 for r in self.answers[start:])


@pytest_asyncio.fixture
async def load_on(pg: OwnPostgres, request: pytest.FixtureRequest) -> AsyncIterator[Load]:
    async with running_api(outage_settings(pg, **request.param)) as api:
        auth = await api.key()
        made = await api.client.post("/v1/contacts", json={"first_name": "K"}, headers=auth)
        yield Load(api, auth, f"/v1/contacts/{made.json()['id']}")


async def _until(predicate: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - polls counters the clients move
            await asyncio.sleep(0.02)


async def _shut_down_under_load(pg: OwnPostgres, load: Load, mode: str) -> None:
    clients = [asyncio.create_task(load.client()) for _ in range(8)]
    try:
        await _until(lambda: load.served_since(0) >= 40, 10)
        await asyncio.to_thread(pg.stop, mode)
        down = len(load.answers)
        await _until(lambda: len(load.answers) >= down + 16, 10)  # requests while it is down
        await asyncio.to_thread(pg.start)
        back = len(load.answers)
        await _until(lambda: load.served_since(back) >= 40, 15)
    finally:
        load.running = False
        await asyncio.gather(*clients)
    statuses = {r.status_code for r in load.answers}
    assert statuses <= {200, 201, 503}, statuses
    failures = [r for r in load.answers if r.status_code == 503]
    assert failures, "the shutdown was never felt: the test proves nothing"
    for r in failures:
        assert_database_unavailable(r)


async def _all_present(pg: OwnPostgres, ids: list[str]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(pg.url("crm")))
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM contact WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids]
        )
    finally:
        await conn.close()
    assert found == len(set(ids))


# Cached credentials send requests on to the routes' reads and writes; uncached ones meet
# the outage in the authentication lookup first.
@pytest.mark.parametrize("load_on", [{"auth_cache_ttl_seconds": 60}], indirect=True)
async def test_a_fast_shutdown_under_load_is_503_not_500_and_no_write_is_lost(
    pg: OwnPostgres, load_on: Load
) -> None:
    await _shut_down_under_load(pg, load_on, "fast")
    await _all_present(pg, load_on.written)


@pytest.mark.parametrize("load_on", [{"auth_cache_ttl_seconds": 0}], indirect=True)
async def test_an_immediate_shutdown_under_load_is_503_not_500_and_no_write_is_lost(
    pg: OwnPostgres, load_on: Load
) -> None:
    await _shut_down_under_load(pg, load_on, "immediate")
    await _all_present(pg, load_on.written)
