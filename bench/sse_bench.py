"""Write → event latency across two API processes: a stream held on B, writes through A.

    uv run python bench/sse_bench.py [--writes 300] [--concurrency 8] [--database crm_bench_sse]

Recreates the database (migrated), makes a workspace and key with `crm workspace create`,
starts two `crm serve` processes on PostgreSQL and Redis, opens `GET /v1/events/stream` on B
and sends `POST /v1/contacts` through A: first one at a time, then `--concurrency` writers at
once. For each write it takes the event's `occurred_at` (stamped in the write's transaction,
just before its commit, by the same clock) and the time the event arrived on B's stream: their
difference bounds commit → event from above. It also reports request sent → event received and
the POSTs' own latency. Then, in this process, the cost a committing request pays to hand its
events over (`CommittedEvents` → the Redis broadcaster's `publish`), with the broadcaster's
background publisher running against the same Redis. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import timeit
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import seed
import servers

from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.event_stream import RedisEventBroadcaster
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import ContactCreated
from crm.ports.event_stream import CommittedEvents

LOGS = Path(__file__).resolve().parent / ".state" / "logs" / "sse"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"| {name} | {len(ms)} | {pct(ms, 50):.2f} ms | {pct(ms, 99):.2f} ms | "
        f"{max(ms):.2f} ms | {statistics.fmean(ms):.2f} ms |"
    )


class Stream:
    """B's stream, read by a task: each event's arrival time by aggregate (contact) id."""

    def __init__(self) -> None:
        self.arrived: dict[str, tuple[float, datetime]] = {}
        self.opened = asyncio.Event()
        self.changed = asyncio.Event()

    async def read(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/v1/events/stream?types=contact.created") as r:
            r.raise_for_status()
            data = None
            async for text_line in r.aiter_lines():
                if text_line == ": open":
                    self.opened.set()
                elif text_line.startswith("data: "):
                    data = text_line[6:]
                elif text_line == "" and data is not None:
                    now = time.time()
                    event = PublishedEvent.decode(data)
                    self.arrived[str(event.aggregate_id)] = (now, event.occurred_at)
                    self.changed.set()
                    data = None


async def write(client: httpx.AsyncClient) -> tuple[str, float, float]:
    """One POST: the contact id, when it was sent (wall clock) and its latency (ms)."""
    body = {"first_name": "Bench", "emails": [f"{uuid.uuid4().hex}@sse.bench"]}
    sent, started = time.time(), time.perf_counter()
    r = await client.post("/v1/contacts", json=body)
    took = (time.perf_counter() - started) * 1000
    if r.status_code != 201:
        raise RuntimeError(f"POST /v1/contacts: {r.status_code} {r.text[:300]}")
    return str(r.json()["id"]), sent, took


async def run(a: httpx.AsyncClient, stream: Stream, writes: int, writers: int) -> list[str]:
    per_writer = writes // writers
    sent: dict[str, float] = {}
    posts: list[float] = []

    async def writer() -> None:
        for _ in range(per_writer):
            contact_id, at, took = await write(a)
            sent[contact_id] = at
            posts.append(took)

    await asyncio.gather(*(writer() for _ in range(writers)))
    async with asyncio.timeout(10):
        while True:
            stream.changed.clear()
            if all(c in stream.arrived for c in sent):
                break
            await stream.changed.wait()
    commit = [(stream.arrived[c][0] - stream.arrived[c][1].timestamp()) * 1000 for c in sent]
    e2e = [(stream.arrived[c][0] - s) * 1000 for c, s in sent.items()]
    label = "one at a time" if writers == 1 else f"{writers} writers"
    return [
        line(f"occurred_at (commit) → event on B, {label}", commit),
        line(f"POST sent to A → event on B, {label}", e2e),
        line(f"POST /v1/contacts on A, {label}", posts),
    ]


async def handoff_cost(redis_url: str, calls: int = 20_000) -> str:
    """µs a committing request spends handing one event over (nothing waits on Redis)."""
    broadcaster = RedisEventBroadcaster(
        build_redis_client(redis_url), build_redis_client(redis_url)
    )
    committed = CommittedEvents()
    committed.listen(lambda events: broadcaster.publish([PublishedEvent.of(e) for e in events]))
    await broadcaster.start()
    ws = uuid.uuid4()
    events = [
        ContactCreated(
            id=uuid.uuid4(),
            workspace_id=ws,
            aggregate_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            actor_id=None,
            payload={"first_name": "Ada", "emails": ["ada@example.com"]},
        )
    ]
    spent = 0.0
    for _ in range(calls // 500):
        spent += timeit.timeit(lambda: committed(events), number=500)
        await asyncio.sleep(0.001)  # the publisher and the loop's callbacks run, as they would
    await broadcaster.stop()
    return f"hand-off per committed write (1 event): {spent / calls * 1e6:.2f} µs"


async def measure(database: str, key: str, writes: int, concurrency: int) -> list[str]:
    env = seed.service_env(database)
    a = servers.start_ours(key, 10, env, LOGS / "a")
    b = servers.start_ours(key, 10, env, LOGS / "b")
    try:
        for server in (a, b):
            servers.wait_ready(server, "/v1/contacts?limit=1")
        timeout = httpx.Timeout(10, read=None)
        async with (
            httpx.AsyncClient(base_url=a.base_url, headers=a.headers, timeout=timeout) as ca,
            httpx.AsyncClient(base_url=b.base_url, headers=b.headers, timeout=timeout) as cb,
        ):
            stream = Stream()
            reader = asyncio.create_task(stream.read(cb))
            await asyncio.wait_for(stream.opened.wait(), 10)
            for _ in range(20):  # warm-up: connections, caches, the JIT-less paths once
                await write(ca)
            lines = await run(ca, stream, writes, 1)
            lines += await run(ca, stream, writes * 2, concurrency)
            reader.cancel()
        return lines
    finally:
        a.stop()
        b.stop()


async def recreate(database: str) -> None:
    conn = await asyncpg.connect(seed.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop(database: str) -> None:
    conn = await asyncpg.connect(seed.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", default="crm_bench_sse")
    args = parser.parse_args()
    asyncio.run(recreate(args.database))
    try:
        seed.migrate(args.database)
        _, key = seed.create_workspace(args.database)
        lines = asyncio.run(measure(args.database, key, args.writes, args.concurrency))
        cost = asyncio.run(handoff_cost(seed.REDIS_URL))
    finally:
        asyncio.run(drop(args.database))
    print("| measure | n | p50 | p99 | max | mean |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    print(cost)


if __name__ == "__main__":
    main()
