"""Events out, end to end: outbox → relay → SQS (moto) → consumers → webhook deliveries → a
receiver, with `--workers` `crm worker` processes; then moto alone, the same traffic shape.

    uv run python bench/events_bench.py [--events 10000] [--workers 2] [--moto indexed|stock]

Recreates the database `crm_bench_events` (`crm migrate`), makes a workspace and key with
`crm workspace create --json`, starts a receiver in this process (asyncio, 204 to every POST,
recording `CRM-Event-ID`) and subscribes it to `*` through the service's own use case
(`CRM_WEBHOOK_ALLOW_PRIVATE=true`). Inserts `--events` contacts and one `contact.updated`
outbox event each (with its timeline row) in one statement, starts moto's server in a process
of its own (bench/moto_server.py), runs `crm aws create-resources`, then starts the workers
and times until the receiver has every event id (duplicates counted). Then moto alone on a
fresh server: `--workers` client processes (events_support.py) sending and receiving/deleting
as many messages in batches of 10 through the service's SQS adapter. Prints a table and
writes it to bench/results/events.md; the database is dropped at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import events_setup as setup
from events_support import AWS_ENV, Receiver, cpu_seconds, start_moto, stop

BENCH_DIR = Path(__file__).resolve().parent
LOGS = BENCH_DIR / ".state" / "logs" / "events"
RESULTS = BENCH_DIR / "results" / "events.md"


@dataclass
class Drain:
    wall: float | None  # workers spawned → every id received; None: timed out
    received: int
    distinct: int
    connections: int
    first_delivery: float | None
    workers_up: float | None
    cpu: dict[str, float]
    checks: dict[str, Any]
    sample: str = "-"


@dataclass
class MotoAlone:
    wall: float | None
    received: int
    distinct: int
    cpu: dict[str, float]


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


async def drain(args: argparse.Namespace, receiver: Receiver, endpoint: str) -> Drain:
    env = {**setup.sqs_env(args.database, endpoint), **worker_settings(args)}
    crm = str(Path(sys.executable).parent / "crm")
    logs = [LOGS / f"worker-{n}.log" for n in range(args.workers)]
    started, own_cpu = time.monotonic(), time.process_time()
    workers = [spawn([crm, "worker"], env, log) for log in logs]
    workers_up = None
    try:
        while len(receiver.ids) < args.events and time.monotonic() - started < args.timeout:
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited; see {LOGS}")
            if workers_up is None and all("worker started" in p.read_text() for p in logs):
                workers_up = time.monotonic() - started
            await asyncio.sleep(0.02)
        wall = time.monotonic() - started
        cpu = {f"worker {n}": cpu_seconds(w.pid) for n, w in enumerate(workers)}
        cpu["PostgreSQL (their backends)"] = await setup.backend_cpu(args.database)
        cpu["receiver (this process)"] = time.process_time() - own_cpu
    finally:
        for w in workers:
            stop(w)
    return Drain(
        wall=wall if len(receiver.ids) >= args.events else None,
        received=receiver.requests,
        distinct=len(receiver.ids),
        connections=receiver.connections,
        first_delivery=None if receiver.first_at is None else receiver.first_at - started,
        workers_up=workers_up,
        cpu=cpu,
        checks=await setup.checks(args.database),
    )


def worker_settings(args: argparse.Namespace) -> dict[str, str]:
    extra = dict(pair.split("=", 1) for pair in args.env)
    return {"CRM_WORKER_CONSUMERS": str(args.consumers), **extra}


async def drain_phase(args: argparse.Namespace) -> Drain:
    receiver = Receiver()
    server = await receiver.start()
    try:
        workspace_id, api_key = await setup.fresh_database(args.database)
        actor_id = await setup.subscribe(args.database, api_key, receiver.url)
        await setup.insert_events(args.database, workspace_id, actor_id, args.events)
        print(f"{args.events:,} events in the outbox; starting moto and the workers")
        moto, endpoint = start_moto(LOGS / "moto.log", args.moto == "indexed")
        try:
            setup.crm("aws", "create-resources", env=setup.sqs_env(args.database, endpoint))
            moto_before = cpu_seconds(moto.pid)
            drained = await drain(args, receiver, endpoint)
            drained.cpu["moto"] = cpu_seconds(moto.pid) - moto_before
        finally:
            stop(moto)
        drained.sample = setup.check_sample(receiver)
        return drained
    finally:
        server.close()
        if not args.keep:
            await setup.drop_database(args.database)


async def moto_alone(args: argparse.Namespace) -> MotoAlone:
    """`--workers` client processes, each sending its share while `--consumers` loops receive
    and delete (see events_support.py), until every message id was deleted once."""
    moto, endpoint = start_moto(LOGS / "moto-alone.log", args.moto == "indexed")
    try:
        setup.crm("aws", "create-resources", env=setup.sqs_env(args.database, endpoint))
        shares = [args.events // args.workers] * args.workers
        shares[0] += args.events - sum(shares)
        script = str(BENCH_DIR / "events_support.py")
        moto_before, started = cpu_seconds(moto.pid), time.monotonic()
        clients = [
            await asyncio.create_subprocess_exec(
                *[sys.executable, script, "moto-client", f"--endpoint={endpoint}"],
                *[f"--queue={setup.QUEUE}", f"--messages={share}", f"--consumers={args.consumers}"],
                env={**os.environ, **AWS_ENV},
                stdout=asyncio.subprocess.PIPE,
            )
            for share in shares
        ]
        ids: set[str] = set()
        received = [0]
        readers = [asyncio.ensure_future(_collect(c, ids, received)) for c in clients]
        while len(ids) < args.events and time.monotonic() - started < args.timeout:
            if any(r.done() for r in readers):
                raise RuntimeError("a moto client exited early")
            await asyncio.sleep(0.02)
        wall = time.monotonic() - started
        cpu = {f"client {n}": cpu_seconds(c.pid) for n, c in enumerate(clients)}
        cpu["moto"] = cpu_seconds(moto.pid) - moto_before
        for c in clients:
            c.terminate()
            await c.wait()
        for r in readers:
            r.cancel()
    finally:
        stop(moto)
    return MotoAlone(wall if len(ids) >= args.events else None, received[0], len(ids), cpu)


async def _collect(client: asyncio.subprocess.Process, ids: set[str], count: list[int]) -> None:
    assert client.stdout is not None
    async for line in client.stdout:
        batch = line.split()
        count[0] += len(batch)
        ids.update(b.decode() for b in batch)


def _s(seconds: float | None) -> str:
    return "timed out" if seconds is None else f"{seconds:.2f} s"


def _rate(count: int, seconds: float | None) -> str:
    return "-" if not seconds else f"{count / seconds:,.0f}/s"


def _cpu(cpu: dict[str, float], events: int) -> str:
    parts = [f"{name} {seconds:.1f} s" for name, seconds in cpu.items()]
    total = sum(cpu.values())
    return ", ".join(parts) + f"; total {total:.1f} s = {1000 * total / events:.2f} ms/event"


def report(args: argparse.Namespace, d: Drain | None, m: MotoAlone | None) -> str:
    n = args.events
    settings = ", ".join(f"`{k}={v}`" for k, v in worker_settings(args).items())
    lines = [
        f"# Events out: {n:,} events, {args.workers} workers",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; {settings} per worker, other settings default; "
        f"moto {version('moto')} {args.moto} (bench/moto_server.py).",
        "",
        "| run | wall | throughput | first delivery after | duplicates | CPU |",
        "|---|---:|---:|---:|---:|---|",
    ]
    notes = []
    if d is not None:
        met = "✅" if d.wall is not None and d.wall <= 10 else "❌"
        lines.append(
            f"| drain: outbox → SQS → webhooks, {args.workers} `crm worker` (≤ 10 s: {met}) | "
            f"{_s(d.wall)} | {_rate(n, d.wall)} | {_s(d.first_delivery)} | "
            f"{d.received - d.distinct} | {_cpu(d.cpu, n)} |"
        )
        steady = None if d.wall is None or d.first_delivery is None else d.wall - d.first_delivery
        notes += [
            f"- drain: workers up (`worker started` logged) after {_s(d.workers_up)}; first "
            f"delivery to last {_s(steady)} ({_rate(n, steady)}); {d.distinct:,} distinct ids "
            f"of {n:,}, {d.received:,} requests on {d.connections:,} connections.",
            f"- after the drain: {d.checks}; a delivery: {d.sample}.",
        ]
    if m is not None:
        lines.append(
            f"| moto alone: send, receive, delete in 10s, {args.workers} processes | "
            f"{_s(m.wall)} | {_rate(n, m.wall)} | - | {m.received - m.distinct} | "
            f"{_cpu(m.cpu, n)} |"
        )
        notes.append(f"- moto alone: {m.distinct:,} distinct message ids, {m.received:,} deletes.")
    return "\n".join([*lines, "", *notes]) + "\n"


async def run(args: argparse.Namespace) -> str:
    drained = None if args.phase == "moto" else await drain_phase(args)
    if drained is not None:
        print(f"drain: {_s(drained.wall)}")
    alone = None if args.phase == "drain" else await moto_alone(args)
    return report(args, drained, alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="crm worker processes")
    parser.add_argument("--consumers", type=int, default=2, help="CRM_WORKER_CONSUMERS each")
    parser.add_argument(
        "--moto",
        choices=["indexed", "stock"],
        default="indexed",
        help="moto without its per-message scans of the queue (see moto_server.py), or as is",
    )
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the workers (repeatable)"
    )
    parser.add_argument("--phase", choices=["both", "drain", "moto"], default="both")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per phase")
    parser.add_argument("--database", default="crm_bench_events")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    table = asyncio.run(run(args))
    print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(table)


if __name__ == "__main__":
    main()
