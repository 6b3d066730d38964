"""Benchmark the service against a raw Starlette + asyncpg app on the same seeded data.

    uv run python bench/run.py [--rows 1000000] [--duration 10] [--connections 64] [--rounds 2]

Seeds the database if needed (bench/seed.py), starts both servers on free local ports, warms
them up, then runs wrk on each scenario, interleaved (raw, ours, raw, ours ... per round),
and prints req/s, p50/p99 and the ratios to raw; the same table goes to
bench/results/latest.md. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg
import orjson
import seed
import servers
from loadgen import WrkOptions, WrkResult, build_script, require_wrk, run_wrk
from report import Measured, Row, rounds_table, summarize, table, warnings
from servers import Server

from crm.domain.pagination import Position, SortOrder, encode_cursor

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "latest.md"
ID_SAMPLE = 10_000
LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    label: str
    kind: str  # the lua/<kind>.lua script
    path: str
    min_ratio: float | None


@dataclass(frozen=True, slots=True)
class Fixtures:
    ids_file: Path
    deep_cursor: str
    deep_offset: int


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run of one scenario on one server."""

    scenario: Scenario
    server: str
    round_no: int
    measured: Measured

    @property
    def result(self) -> WrkResult:
        return self.measured.result


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=seed.DEFAULT_ROWS, help="contacts to seed")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (2 cores: keep 1)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per scenario")
    p.add_argument("--deep", type=int, default=500_000, help="offset of the deep list page")
    p.add_argument("--pool-size", type=int, default=10, help="DB pool size, both servers")
    p.add_argument("--database", default="crm_bench")
    p.add_argument(
        "--only",
        action="append",
        choices=["get", "list", "deep", "post"],
        help="run only these scenarios (repeatable); default: all four",
    )
    p.add_argument(
        "--ours-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra env for ours, repeatable (KEY= unsets KEY), e.g. CRM_REDIS_URL= for A/B",
    )
    return p.parse_args()


def scenarios(fixtures: Fixtures) -> list[Scenario]:
    deep = f"/v1/contacts?limit={LIST_LIMIT}&cursor={fixtures.deep_cursor}"
    return [
        Scenario("get", "GET /v1/contacts/{id}", "get", "/v1/contacts", 0.75),
        Scenario("list", "list, page 1", "static", f"/v1/contacts?limit={LIST_LIMIT}", 0.6),
        Scenario("deep", f"list, {fixtures.deep_offset:,} deep", "static", deep, 0.6),
        Scenario("post", "POST /v1/contacts", "post", "/v1/contacts", None),
    ]


async def _sample(state: seed.BenchState, deep: int) -> tuple[list[str], Position, int]:
    """A random sample of seeded ids for GET, and the row `deep` rows down (newest first)."""
    conn = await asyncpg.connect(seed.dsn(state.database))
    try:
        ws = UUID(state.workspace_id)
        ids = await conn.fetch(
            "SELECT id FROM contact WHERE workspace_id = $1 AND created_at <= $2 "
            "ORDER BY random() LIMIT $3",
            ws,
            state.seeded_until_dt,
            ID_SAMPLE,
        )
        offset = min(deep, state.rows // 2)
        row = await conn.fetchrow(
            "SELECT created_at, id FROM contact WHERE workspace_id = $1 "
            "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            ws,
            offset,
        )
    finally:
        await conn.close()
    if row is None:
        raise SystemExit(f"the workspace has no row at offset {offset}: reseed it")
    return [str(r["id"]) for r in ids], Position(row["created_at"], row["id"]), offset


def fixtures(state: seed.BenchState, out_dir: Path, deep: int) -> Fixtures:
    """Computed once per run: the GET id sample (a file wrk reads) and the deep cursor."""
    ids, position, offset = asyncio.run(_sample(state, deep))
    out_dir.mkdir(parents=True, exist_ok=True)
    ids_file = out_dir / "ids.txt"
    ids_file.write_text("".join(f"{i}\n" for i in ids))
    cursor = encode_cursor(position, SortOrder.NEWEST_FIRST)
    return Fixtures(ids_file, cursor, offset)


@contextmanager
def running_servers(
    state: seed.BenchState, pool_size: int, logs: Path, overrides: list[str]
) -> Iterator[tuple[Server, Server]]:
    env = seed.service_env(state.database)
    started: list[Server] = []
    try:
        raw = servers.start_raw(state.workspace_id, seed.dsn(state.database), pool_size, env, logs)
        started.append(raw)
        ours = servers.start_ours(state.api_key, pool_size, with_overrides(env, overrides), logs)
        started.append(ours)
        servers.wait_ready(raw, "/healthz")
        servers.wait_ready(ours, f"/v1/contacts?limit={LIST_LIMIT}")
        yield raw, ours
    finally:
        for server in reversed(started):
            server.stop()


def with_overrides(env: dict[str, str], overrides: list[str]) -> dict[str, str]:
    """Apply KEY=VALUE pairs; an empty VALUE removes KEY."""
    out = dict(env)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--ours-env wants KEY=VALUE, got {item!r}")
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def sanity_check(raw: Server, ours: Server, fixtures: Fixtures) -> None:
    """One request per operation on each side: statuses right and the same JSON fields."""
    contact_id = fixtures.ids_file.read_text().split("\n", 1)[0]
    paths = [f"/v1/contacts/{contact_id}", f"/v1/contacts?limit={LIST_LIMIT}"]
    paths.append(f"/v1/contacts?limit={LIST_LIMIT}&cursor={fixtures.deep_cursor}")
    for path in paths:
        bodies = [_expect(s, *servers.request(s, "GET", path), 200, path) for s in (raw, ours)]
        _same_shape(bodies[0], bodies[1], path)
    for s in (raw, ours):
        email = f"ada+check.{secrets.token_hex(6)}@example.com"
        body = orjson.dumps({"first_name": "Ada", "last_name": "Lovelace", "emails": [email]})
        answer = servers.request(s, "POST", "/v1/contacts", body)
        _expect(s, *answer, 201, "POST /v1/contacts")


def _expect(server: Server, status: int, body: bytes, want: int, what: str) -> object:
    if status != want:
        raise SystemExit(f"!!! {server.name}: {what} answered {status}, not {want}: {body[:500]!r}")
    return orjson.loads(body)


def _same_shape(raw: object, ours: object, path: str) -> None:
    """Both sides must return the same rows; differing fields are only worth a warning."""

    def rows(doc: object) -> list[object]:
        if not isinstance(doc, dict):
            return []
        items = doc.get("data", [doc])
        return [item.get("id") for item in items if isinstance(item, dict)]

    def keys(doc: object) -> set[str]:
        if isinstance(doc, dict) and "data" in doc:
            return set(doc) | {f"data.{k}" for k in (doc["data"] or [{}])[0]}
        return set(doc) if isinstance(doc, dict) else set()

    if rows(raw) != rows(ours):
        raise SystemExit(f"!!! raw and ours return different rows on {path}")
    if keys(raw) != keys(ours):
        print(f"warning: raw and ours differ in fields on {path}: {keys(raw) ^ keys(ours)}")


def one_run(server: Server, scenario: Scenario, options: WrkOptions, fx: Fixtures) -> WrkResult:
    script = build_script(scenario.kind, BENCH_DIR / ".state" / "lua")
    args = {
        "get": [str(fx.ids_file)],
        "post": [f"{server.name}{secrets.token_hex(4)}"],
    }.get(scenario.kind, [])
    return run_wrk(server.base_url + scenario.path, script, options, server.headers, args)


def warm_up(pair: tuple[Server, Server], plan: list[Scenario], seconds: int, fx: Fixtures) -> None:
    options = WrkOptions(duration=seconds, connections=16, threads=1)
    for scenario in plan:
        for server in pair:
            one_run(server, scenario, options, fx)
    print(f"warmed up ({seconds} s per scenario and server)", file=sys.stderr)


def measure(
    pair: tuple[Server, Server], plan: list[Scenario], args: argparse.Namespace, fx: Fixtures
) -> list[Run]:
    options = WrkOptions(args.duration, args.connections, args.threads)
    runs = []
    for round_no in range(1, args.rounds + 1):
        for scenario in plan:
            for server in pair:
                cpu_before = servers.cpu_seconds(server)
                result = one_run(server, scenario, options, fx)
                measured = Measured(result, servers.cpu_seconds(server) - cpu_before)
                runs.append(Run(scenario, server.name, round_no, measured))
                print(
                    f"round {round_no} {scenario.label:<26} {server.name:<4} "
                    f"{result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.1f} ms  "
                    f"p99 {result.p99_ms:6.1f} ms  "
                    f"CPU {measured.cpu_us_per_request:5.0f} µs/req  non-2xx {result.non_2xx}",
                    file=sys.stderr,
                )
    return runs


def rows_of(plan: list[Scenario], runs: list[Run]) -> list[Row]:
    def of(scenario: Scenario, server: str) -> list[Measured]:
        return [r.measured for r in runs if r.scenario == scenario and r.server == server]

    return [
        Row(s.label, summarize(of(s, "raw")), summarize(of(s, "ours")), s.min_ratio) for s in plan
    ]


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=BENCH_DIR.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    dirty = " (uncommitted changes)" if git("status", "--porcelain", "--", "src") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_note(seconds: float = 2.0) -> str | None:
    """Other work on the box skews both sides (the ratio less, thanks to interleaving)."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    busy = (busy1 - busy0) / max(1, total1 - total0)
    if busy < 0.2:
        return None
    return f"the CPUs were {busy:.0%} busy with other work just before the run"


def document(args: argparse.Namespace, rows: list[Row], runs: list[Run], notes: list[str]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    setup = (
        f"{now}, commit {git_revision()}, {platform.node()} ({os.cpu_count()} CPUs). "
        f"{args.rows:,} contacts; wrk {args.threads} thread(s), {args.connections} connections, "
        f"{args.duration} s per run, {args.rounds} interleaved rounds (medians shown); "
        f"1 uvicorn worker each (uvloop + httptools), DB pool {args.pool_size} each; "
        "ours with API-key auth and the Redis rate limiter in the path."
    )
    if args.ours_env:
        setup += f" Ours run with extra env: {', '.join(args.ours_env)}."
    parts = ["# Benchmark: ours vs raw Starlette + asyncpg", "", setup, "", table(rows)]
    if notes:
        parts += ["", "## Warnings", "", *(f"- **{n}**" for n in notes)]
    detail = [(r.scenario.label, r.server, r.round_no, r.measured) for r in runs]
    parts += ["", "## Every run", "", rounds_table(detail), ""]
    return "\n".join(parts)


def main() -> None:
    args = parse_args()
    require_wrk()
    busy = busy_note()
    state = seed.ensure(args.database, args.rows)
    removed = asyncio.run(seed.reset_writes(state))
    if removed:
        print(f"removed {removed:,} contacts left by earlier POST runs", file=sys.stderr)
    fx = fixtures(state, BENCH_DIR / ".state", args.deep)
    plan = [s for s in scenarios(fx) if not args.only or s.key in args.only]
    logs = BENCH_DIR / ".state" / "logs"
    with running_servers(state, args.pool_size, logs, args.ours_env) as pair:
        sanity_check(*pair, fx)
        warm_up(pair, plan, args.warmup, fx)
        runs = measure(pair, plan, args, fx)
    rows = rows_of(plan, runs)
    notes = warnings(rows) + ([busy] if busy else [])
    doc = document(args, rows, runs, notes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(doc)
    print("\n" + table(rows) + "\n")
    for note in notes:
        print(f"!!! WARNING: {note}")
    print(f"written to {RESULTS.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
