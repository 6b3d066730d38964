"""An open-loop HTTP/1.1 load generator (wrk2's idea): request i is due at start + i / rate,
whether or not earlier ones have been answered, so a slow server cannot slow the load down.

    python bench/openloop.py URL --rate 1000 --duration 10 [--requests FILE] [--header H: V]

`--requests FILE` holds one POST a line, `<X-Hub-Signature-256>\\t<JSON body>`, taken in
order (cycled); without it every request is a GET of URL. Latency is measured from the time
a request was due (queueing in this client included, as wrk2 does) and, separately, from the
time it was written. Connections are keep-alive, opened ahead (`--connections`) and more when
every one is busy, up to `--max-connections`; beyond that a due request waits for one. Prints
one JSON line: counts, statuses, percentiles, and the `time.monotonic()` (CLOCK_MONOTONIC,
the same clock in every process of the machine) of the last accepted answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time; responses need a Content-Length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        length = 0 if at < 0 else int(head[at + 17 :].split(b"\r\n", 1)[0])
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


@dataclass
class Pool:
    host: str
    port: int
    limit: int
    idle: list[Connection] = field(default_factory=list)
    waiting: deque[asyncio.Future[Connection]] = field(default_factory=deque)
    opened: int = 0
    busiest: int = 0
    in_use: int = 0
    opening: set[asyncio.Future[None]] = field(default_factory=set)

    async def open(self) -> Connection:
        self.opened += 1
        _, conn = await asyncio.get_running_loop().create_connection(
            Connection, self.host, self.port
        )
        return conn

    async def acquire(self) -> Connection:
        self.in_use += 1
        self.busiest = max(self.busiest, self.in_use)
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        if self.opened < self.limit:
            return await self.open()
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        return await waiter

    def release(self, conn: Connection) -> None:
        self.in_use -= 1
        if conn.closed:
            self.opened -= 1
            if self.waiting:
                task = asyncio.ensure_future(self._open_for(self.waiting.popleft()))
                self.opening.add(task)
                task.add_done_callback(self.opening.discard)
            return
        if self.waiting:
            self.waiting.popleft().set_result(conn)
        else:
            self.idle.append(conn)

    async def _open_for(self, waiter: asyncio.Future[Connection]) -> None:
        waiter.set_result(await self.open())


@dataclass
class Results:
    due_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    first_sent: float | None = None
    last_ok: float | None = None


def build_requests(url: str, requests: Path | None, headers: list[str]) -> list[bytes]:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    fixed = [f"Host: {parts.netloc}", *headers]
    if requests is None:
        return ["\r\n".join([f"GET {path} HTTP/1.1", *fixed, "", ""]).encode()]
    built = []
    for line in requests.read_text().splitlines():
        signature, body = line.split("\t", 1)
        raw = body.encode()
        head = [
            f"POST {path} HTTP/1.1",
            *fixed,
            "Content-Type: application/json",
            f"X-Hub-Signature-256: {signature}",
            f"Content-Length: {len(raw)}",
            "",
            "",
        ]
        built.append("\r\n".join(head).encode() + raw)
    return built


async def one(pool: Pool, request: bytes, due: float, patience: float, out: Results) -> None:
    conn = await pool.acquire()
    sent = time.monotonic()
    out.first_sent = out.first_sent or sent
    try:
        status = await asyncio.wait_for(conn.send(request), patience)
    except (ConnectionError, TimeoutError) as e:
        out.statuses[type(e).__name__] += 1
        if conn.transport is not None:
            conn.transport.close()
        conn.closed = True
        pool.release(conn)
        return
    done = time.monotonic()
    pool.release(conn)
    out.statuses[str(status)] += 1
    if 200 <= status < 300:
        out.last_ok = done
    out.due_ms.append((done - due) * 1000)
    out.service_ms.append((done - sent) * 1000)


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(args.url)
    requests = build_requests(args.url, args.requests, args.header)
    total = int(args.rate * args.duration)
    pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80, args.max_connections)
    pool.idle = [await pool.open() for _ in range(args.connections)]
    out, tasks = Results(), []
    start = time.monotonic() + 0.05
    i = 0
    while i < total:
        now = time.monotonic()
        while i < total and start + i / args.rate <= now:
            request = requests[(args.offset + i) % len(requests)]
            due = start + i / args.rate
            tasks.append(asyncio.ensure_future(one(pool, request, due, args.timeout, out)))
            i += 1
        await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
    scheduled_until = time.monotonic()
    await asyncio.gather(*tasks)
    return summary(args, out, total, start, scheduled_until, pool)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ranked = sorted(values)
    at = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}
    picked = {k: ranked[min(len(ranked) - 1, int(q * len(ranked)))] for k, q in at.items()}
    return {**picked, "max": ranked[-1], "mean": sum(ranked) / len(ranked)}


def summary(
    args: argparse.Namespace, out: Results, total: int, start: float, until: float, pool: Pool
) -> dict[str, Any]:
    ok = sum(n for s, n in out.statuses.items() if s.startswith("2"))
    span = None if out.last_ok is None else out.last_ok - start
    return {
        "rate": args.rate,
        "requests": total,
        "ok": ok,
        "statuses": dict(out.statuses),
        "achieved_per_s": None if not span else ok / span,
        "scheduling_s": until - start,
        "start": start,
        "last_ok": out.last_ok,
        "from_due_ms": percentiles(out.due_ms),
        "from_sent_ms": percentiles(out.service_ms),
        "connections_opened": pool.opened,
        "busiest": pool.busiest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=1000, help="requests per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds")
    parser.add_argument("--requests", type=Path, help="`<signature>\\t<body>` lines to POST")
    parser.add_argument("--offset", type=int, default=0, help="first line of --requests to use")
    parser.add_argument("--header", action="append", default=[], help="`Name: value`")
    parser.add_argument("--connections", type=int, default=32, help="opened ahead")
    parser.add_argument("--max-connections", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=10, help="seconds per request")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(drive(args))))


if __name__ == "__main__":
    main()
