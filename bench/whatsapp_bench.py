"""WhatsApp in (issue #15 item 7): the webhook route at a fixed rate, the worker's lag to
DynamoDB (moto) with contacts linked, moto alone the same way, and a chat's newest 50.

    uv run python bench/whatsapp_bench.py [--rate 1000] [--duration 10] [--workers 2]
        [--mode concurrent|after] [--customers 1000] [--phase all|service|moto]

Recreates the database `crm_bench_whatsapp` (`crm migrate`), makes a workspace and key
(`crm workspace create --json`) and `--customers` contacts whose phones are the senders'
numbers; starts moto's server in its own process (bench/whatsapp_moto_server.py: with
`--moto indexed`, the default, without moto's per-call scans of a queue or a table), runs `crm aws
create-resources`, starts `crm serve` (1 worker) and connects the channel through `POST
/v1/channels/whatsapp`. Writes rate x duration (+ a warm-up) signed notifications of one
message each (distinct wamids; every `--hot-every`-th from one customer, the rest round the
others) and posts them open loop (bench/openloop.py) at `--rate`. `--mode concurrent` runs the
`crm worker` processes meanwhile, `after` starts them once the route is done; both time until
every message is in the chats table and every chat has its contact. Then, workers stopped,
`GET /v1/chats/{id}/messages?limit=50` of the hot chat with wrk (64 connections and 1) and open
loop at `--list-rate`. Then moto alone on a fresh server (bench/whatsapp_moto.py). Prints a
table and writes it to bench/results/whatsapp.md; the database is dropped (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import events_setup
import loadgen
import seed
import servers
import whatsapp_report as report
import whatsapp_setup as ws
from events_support import AWS_ENV, cpu_seconds, stop

BENCH_DIR = Path(__file__).resolve().parent
LOGS = BENCH_DIR / ".state" / "logs" / "whatsapp"
REQUESTS = BENCH_DIR / ".state" / "whatsapp-requests.txt"
RESULTS = BENCH_DIR / "results" / "whatsapp.md"
WEBHOOK = "/v1/webhooks/whatsapp"


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


async def run_json(*cmd: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[1]} exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def post_open_loop(
    url: str, rate: float, duration: float, offset: int, extra: list[str] | None = None
) -> dict[str, Any]:
    script = str(BENCH_DIR / "openloop.py")
    args = [f"--rate={rate}", f"--duration={duration}", f"--offset={offset}", *(extra or [])]
    return await run_json(sys.executable, script, url, f"--requests={REQUESTS}", *args)


async def wait_until(check: Callable[[], bool], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    crm = str(Path(sys.executable).parent / "crm")
    return [spawn([crm, "worker"], env, LOGS / f"worker-{n}.log") for n in range(count)]


def workers_up(count: int) -> bool:
    return all("worker started" in (LOGS / f"worker-{n}.log").read_text() for n in range(count))


async def until_stored(
    args: argparse.Namespace,
    env: dict[str, str],
    workspace_id: str,
    total: int,
    workers: list[subprocess.Popen[bytes]],
) -> tuple[float | None, tuple[int, int, int]]:
    """Poll the database (cheap) until the worker recorded every message, then the chats
    table until every message is counted on its chat and every chat is linked: the time."""
    deadline, state = time.monotonic() + args.timeout, (0, 0, 0)
    conn = await asyncpg.connect(seed.dsn(args.database))
    async with ws.dynamodb_client(env["CRM_AWS_ENDPOINT_URL"]) as dynamodb:
        while time.monotonic() < deadline:
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited; see {LOGS}")
            if await conn.fetchval(ws.PROCESSED) < total:
                await asyncio.sleep(0.1)
                continue
            state = await ws.stored(dynamodb, workspace_id)
            if state[1] >= total and state[2] == state[0]:
                await conn.close()
                return time.monotonic(), state
            await asyncio.sleep(0.1)
    await conn.close()
    return None, state


async def route_and_drain(
    args: argparse.Namespace, server: servers.Server, env: dict[str, str], workspace_id: str
) -> dict[str, Any]:
    url = f"{server.base_url}{WEBHOOK}"
    warmup = int(args.warmup_rate * args.warmup)
    total = warmup + int(args.rate * args.duration)
    procs: dict[str, int] = {"crm serve": server.proc.pid}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        if args.mode == "concurrent":
            workers = start_workers(args.workers, env)
            await wait_until(lambda: workers_up(args.workers), time.monotonic() + 60)
        warm = await post_open_loop(url, args.warmup_rate, args.warmup, 0)
        cpu_before = {name: cpu_seconds(pid) for name, pid in procs.items()}
        route = await post_open_loop(url, args.rate, args.duration, warmup)
        route["cpu"] = {n: cpu_seconds(pid) - cpu_before[n] for n, pid in procs.items()}
        route["warmup"] = {k: warm[k] for k in ("requests", "statuses", "start")}
        spawned = time.monotonic()
        if not workers:
            workers = start_workers(args.workers, env)
        done, state = await until_stored(args, env, workspace_id, total, workers)
        drain = {"messages": total, "done": done, "spawned": spawned, "state": state}
        drain["cpu"] = {f"worker {n}": cpu_seconds(w.pid) for n, w in enumerate(workers)}
        drain["cpu"]["PostgreSQL (backends)"] = await events_setup.backend_cpu(args.database)
    finally:
        for w in workers:
            stop(w)
    async with ws.dynamodb_client(env["CRM_AWS_ENDPOINT_URL"]) as dynamodb:
        drain["items"] = await ws.message_items(dynamodb)
    return {"route": route, "drain": drain}


async def list_phase(
    args: argparse.Namespace, server: servers.Server, workspace_id: str
) -> dict[str, Any]:
    path = f"/v1/chats/{ws.hot_chat_id(workspace_id)}/messages?limit=50"
    status, body = servers.request(server, "GET", path)
    items = json.loads(body).get("data", []) if status == 200 else []
    if len(items) != 50:
        raise RuntimeError(f"GET {path}: HTTP {status}, {len(items)} items: {body[:300]!r}")
    chat = json.loads(servers.request(server, "GET", path.split("/messages")[0])[1])
    script = loadgen.build_script("static", LOGS)
    found: dict[str, Any] = {"messages_in_chat": chat.get("message_count")}
    for connections in (64, 1):
        await asyncio.sleep(3)  # what the last run left queued in the API and moto ends first
        options = loadgen.WrkOptions(args.list_duration, connections, 1)
        before = cpu_seconds(server.proc.pid)
        result = loadgen.run_wrk(server.base_url + path, script, options, server.headers, [])
        cpu = cpu_seconds(server.proc.pid) - before
        found[f"wrk {connections}"] = {**asdict(result), "rps": result.rps, "cpu": cpu}
    await asyncio.sleep(3)
    auth = [f"--header=Authorization: {server.headers['Authorization']}"]
    found["open loop"] = await run_json(
        sys.executable,
        str(BENCH_DIR / "openloop.py"),
        server.base_url + path,
        f"--rate={args.list_rate}",
        f"--duration={args.list_duration}",
        *auth,
    )
    return found


async def service_phase(args: argparse.Namespace) -> dict[str, Any]:
    workspace_id, api_key = await events_setup.fresh_database(args.database)
    await ws.insert_contacts(args.database, workspace_id, args.customers)
    moto, endpoint = ws.start_moto(LOGS / "moto.log", args.moto == "indexed")
    server = None
    try:
        env = ws.env(args.database, endpoint)
        events_setup.crm("aws", "create-resources", env=env)
        server = servers.start_ours(api_key, 10, env, LOGS)
        servers.wait_ready(server, "/v1/chats?limit=1")
        ws.connect_channel(server)
        moto_before = cpu_seconds(moto.pid)
        found = await route_and_drain(args, server, env, workspace_id)
        found["drain"]["cpu"]["moto"] = cpu_seconds(moto.pid) - moto_before
        found["list"] = await list_phase(args, server, workspace_id)
        return found
    finally:
        if server is not None:
            server.stop()
        stop(moto)
        if not args.keep:
            await events_setup.drop_database(args.database)


async def moto_phase(args: argparse.Namespace) -> dict[str, Any]:
    """The same traffic on a fresh moto: the route's sends open loop at `--rate` while
    `--workers` consumer processes receive, write the chats and delete."""
    moto, endpoint = ws.start_moto(LOGS / "moto-alone.log", args.moto == "indexed")
    script = str(BENCH_DIR / "whatsapp_moto.py")
    workspace_id = str(uuid.uuid4())
    try:
        events_setup.crm("aws", "create-resources", env=ws.env(args.database, endpoint))
        total = int(args.rate * args.duration) + 1
        consumers = [
            await asyncio.create_subprocess_exec(
                *[sys.executable, script, "consume", f"--endpoint={endpoint}"],
                f"--workspace={workspace_id}",
                stdout=asyncio.subprocess.PIPE,
                env=ws.env(args.database, endpoint),
            )
            for _ in range(args.workers)
        ]
        handled = [0]
        readers = [asyncio.ensure_future(_count(c, handled)) for c in consumers]
        try:
            moto_before = cpu_seconds(moto.pid)
            sent = await run_json(
                *[sys.executable, script, "send", f"--endpoint={endpoint}"],
                *[f"--requests={REQUESTS}", f"--rate={args.rate}", f"--duration={args.duration}"],
            )
            deadline = time.monotonic() + args.timeout
            reached = await wait_until(lambda: handled[0] >= total, deadline)
            done = time.monotonic() if reached else None
            cpu = {f"consumer {n}": cpu_seconds(c.pid) for n, c in enumerate(consumers)}
            cpu["moto"] = cpu_seconds(moto.pid) - moto_before
        finally:
            for c in consumers:
                c.terminate()
                await c.wait()
            for r in readers:
                r.cancel()
        listed = await run_json(
            *[sys.executable, script, "list", f"--endpoint={endpoint}"],
            *[f"--workspace={workspace_id}", f"--chat={ws.hot_chat_id(workspace_id)}"],
            f"--duration={args.list_duration}",
        )
        found = {"send": sent, "messages": total, "handled": handled[0], "done": done}
        return {**found, "cpu": cpu, "list": listed}
    finally:
        stop(moto)


async def _count(proc: asyncio.subprocess.Process, handled: list[int]) -> None:
    assert proc.stdout is not None
    async for line in proc.stdout:
        handled[0] += int(line)


async def run(args: argparse.Namespace) -> str:
    total = int(args.warmup_rate * args.warmup) + int(args.rate * args.duration)
    args.per_customer = ws.write_requests(REQUESTS, total, args.customers, args.hot_every)
    service = None if args.phase == "moto" else await service_phase(args)
    alone = None if args.phase == "service" else await moto_phase(args)
    return report.render(args, service, alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000, help="webhook requests per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds at --rate")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up")
    parser.add_argument("--warmup-rate", type=float, default=200)
    parser.add_argument("--workers", type=int, default=2, help="crm worker processes")
    parser.add_argument("--mode", choices=["concurrent", "after"], default="concurrent")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--hot-every", type=int, default=40, help="every n-th: the hot chat")
    parser.add_argument("--list-duration", type=int, default=10)
    parser.add_argument("--list-rate", type=float, default=50, help="open-loop list req/s")
    parser.add_argument("--moto", choices=["indexed", "stock"], default="indexed")
    parser.add_argument("--phase", choices=["all", "service", "moto"], default="all")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait a drain")
    parser.add_argument("--database", default="crm_bench_whatsapp")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    os.environ.update(AWS_ENV)  # this process reads the chats table, child processes inherit
    table = asyncio.run(run(args))
    print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(table)


if __name__ == "__main__":
    main()
