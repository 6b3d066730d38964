"""Seed N contacts into a benchmark workspace with COPY; idempotent through bench/.state/.

    uv run python bench/seed.py [--rows 1000000] [--database crm_bench]

Creates the database if missing, applies the migrations (`crm migrate`), creates a workspace
and its API key through the service's own CLI (`crm workspace create --json`), then COPYs
the contacts and their emails and runs VACUUM ANALYZE. A second run with the same row count
does nothing: the workspace id, key and row count are kept in bench/.state/<database>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

BENCH_DIR = Path(__file__).resolve().parent
STATE_DIR = BENCH_DIR / ".state"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Only ever used against the local benchmark database; ≥ 32 characters as the service asks.
SECRET_KEY = "bench-only-secret-key-0123456789abcdef"  # noqa: S105
DEFAULT_ROWS = 1_000_000
CHUNK = 50_000
SEED_SPAN = timedelta(days=3 * 365)

CONTACT_COLUMNS = (
    "id",
    "workspace_id",
    "display_name",
    "first_name",
    "last_name",
    "emails",
    "phones",
    "job_title",
    "company_name",
    "owner_id",
    "tags",
    "lifecycle_stage",
    "custom_fields",
    "created_at",
    "updated_at",
    "version",
)
EMAIL_COLUMNS = ("workspace_id", "email", "contact_id")

# fmt: off
FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "John", "Frances", "Ken",
    "Dennis", "Radia", "Tim", "Vint", "Leslie", "Niklaus", "Katherine", "Dorothy", "Hedy",
    "Claude", "Marvin", "Sophie", "Linus", "Guido", "Yukihiro", "Anders", "Bjarne", "James",
    "Larry", "Brian", "Shafi", "Silvio", "Lynn", "Mary", "Jean", "Annie", "Karen", "Evelyn",
)
LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "McCarthy",
    "Allen", "Thompson", "Ritchie", "Perlman", "Berners-Lee", "Cerf", "Lamport", "Wirth",
    "Johnson", "Vaughan", "Lamarr", "Shannon", "Minsky", "Wilson", "Torvalds", "Rossum",
    "Matsumoto", "Hejlsberg", "Stroustrup", "Gosling", "Wall", "Kernighan", "Goldwasser",
    "Micali", "Conway", "Keller", "Sammet", "Easley", "Sparck-Jones", "Boyd", "Shaw", "Clarke",
)
# fmt: on
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    None,
)
JOB_TITLES = ("CEO", "CTO", "Engineer", "Sales Manager", "Designer", "Buyer", "Analyst", None)
TAGS = ("vip", "newsletter", "trial", "partner", "churn-risk", "enterprise", "smb", "event")
AREA_CODES = ("212", "305", "415", "512", "617", "646", "702", "808", "917")


@dataclass(frozen=True, slots=True)
class BenchState:
    """What later runs need: the seeded workspace, its key, and where the seed ends."""

    database: str
    workspace_id: str
    api_key: str
    rows: int
    seeded_until: str  # created_at of the newest seeded row (RFC 3339)

    @property
    def seeded_until_dt(self) -> datetime:
        return datetime.fromisoformat(self.seeded_until)


def dsn(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def service_env(database: str) -> dict[str, str]:
    """Environment for the service's CLI and server, pointed at the benchmark database."""
    return {
        **os.environ,
        "CRM_ENV": "development",
        "CRM_DATABASE_URL": dsn(database).replace("postgresql://", "postgresql+asyncpg://"),
        "CRM_REDIS_URL": REDIS_URL,
        "CRM_SECRET_KEY": SECRET_KEY,
        "CRM_RATE_LIMIT_REQUESTS": "1000000000",
    }


def crm_cli(*args: str, database: str) -> str:
    """Run the service's `crm` command (from this virtualenv) and return its stdout."""
    crm = Path(sys.executable).parent / "crm"
    done = subprocess.run(
        [str(crm), *args],
        env=service_env(database),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"crm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def state_path(database: str) -> Path:
    return STATE_DIR / f"{database}.json"


def load_state(database: str) -> BenchState | None:
    path = state_path(database)
    if not path.exists():
        return None
    return BenchState(**json.loads(path.read_text()))


def save_state(state: BenchState) -> None:
    STATE_DIR.mkdir(exist_ok=True)
    path = state_path(state.database)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n")
    path.chmod(0o600)


async def ensure_database(database: str) -> None:
    conn = await asyncpg.connect(dsn("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
            log(f"created database {database}")
    finally:
        await conn.close()


def migrate(database: str) -> None:
    crm_cli("migrate", database=database)


def create_workspace(database: str) -> tuple[str, str]:
    out = crm_cli("workspace", "create", "Benchmark", "--json", database=database)
    created: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return created["workspace_id"], created["api_key"]


def uuid7(ms: int, seq: int, rng: random.Random) -> UUID:
    """A UUIDv7 for a given millisecond; `seq` in the random bits keeps ids unique."""
    rand_a = rng.getrandbits(12)
    rand_b = (seq << 30) | rng.getrandbits(30)
    return UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)


def contact_rows(
    workspace_id: UUID, start: datetime, step_us: int, first: int, count: int, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """Contacts `first`..`first+count-1`, oldest first, created_at strictly increasing."""
    for i in range(first, first + count):
        created = start + timedelta(microseconds=i * step_us + rng.randrange(step_us // 2))
        ms = int(created.timestamp() * 1000)
        fn, ln = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{fn}.{ln}.{i}@example.com".lower()
        phone = f"+1{rng.choice(AREA_CODES)}555{i % 10_000:04d}"
        tags = rng.sample(TAGS, rng.randrange(4))
        yield (
            uuid7(ms, i, rng),
            workspace_id,
            None,
            fn,
            ln,
            [email],
            [phone],
            rng.choice(JOB_TITLES),
            rng.choice(COMPANIES),
            None,
            tags,
            "lead",
            "{}",
            created,
            created,
            1,
        )


async def copy_contacts(conn: asyncpg.Connection, workspace_id: UUID, rows: int) -> datetime:
    """COPY `rows` contacts and their emails; returns the newest created_at."""
    end = datetime.now(UTC) - timedelta(days=1)
    start = end - SEED_SPAN
    step_us = max(2, int(SEED_SPAN.total_seconds() * 1_000_000) // rows)
    rng = random.Random(20240601)  # reproducible fake data
    newest = start
    async with conn.transaction():
        for first in range(0, rows, CHUNK):
            batch = list(
                contact_rows(workspace_id, start, step_us, first, min(CHUNK, rows - first), rng)
            )
            emails = [(workspace_id, r[5][0], r[0]) for r in batch]
            await conn.copy_records_to_table("contact", records=batch, columns=CONTACT_COLUMNS)
            await conn.copy_records_to_table("contact_email", records=emails, columns=EMAIL_COLUMNS)
            newest = batch[-1][13]
            log(f"  copied {first + len(batch):,}/{rows:,}")
    return newest


async def seeded_count(conn: asyncpg.Connection, state: BenchState) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM contact WHERE workspace_id = $1 AND created_at <= $2",
        UUID(state.workspace_id),
        state.seeded_until_dt,
    )
    return count


async def drop_workspace(conn: asyncpg.Connection, workspace_id: str) -> None:
    """Remove a previous benchmark workspace (contacts and emails go by cascade)."""
    ws = UUID(workspace_id)
    await conn.execute("DELETE FROM outbox_event WHERE workspace_id = $1", ws)
    await conn.execute("DELETE FROM workspace WHERE id = $1", ws)


async def vacuum_analyze(conn: asyncpg.Connection) -> None:
    await conn.execute("VACUUM (ANALYZE) contact, contact_email, outbox_event")


async def reset_writes(state: BenchState) -> int:
    """Delete what earlier benchmark POSTs added, so every run reads the same data set."""
    conn = await asyncpg.connect(dsn(state.database))
    try:
        ws = UUID(state.workspace_id)
        deleted = await conn.fetchval(
            "WITH d AS (DELETE FROM contact WHERE workspace_id = $1 AND created_at > $2 "
            "RETURNING 1) SELECT count(*) FROM d",
            ws,
            state.seeded_until_dt,
        )
        await conn.execute("DELETE FROM outbox_event WHERE workspace_id = $1", ws)
        if deleted:
            await vacuum_analyze(conn)
        return int(deleted)
    finally:
        await conn.close()


async def seed(database: str, rows: int) -> BenchState:
    conn = await asyncpg.connect(dsn(database))
    try:
        old = load_state(database)
        if old is not None and await _complete(conn, old, rows):
            log(f"already seeded: {rows:,} contacts in workspace {old.workspace_id}")
            return old
        if old is not None:
            log(f"dropping the previous benchmark workspace {old.workspace_id}")
            await drop_workspace(conn, old.workspace_id)
        workspace_id, api_key = create_workspace(database)
        log(f"seeding {rows:,} contacts into workspace {workspace_id}")
        started = time.monotonic()
        newest = await copy_contacts(conn, UUID(workspace_id), rows)
        await vacuum_analyze(conn)
        log(f"seeded in {time.monotonic() - started:.0f} s")
        state = BenchState(database, workspace_id, api_key, rows, newest.isoformat())
        save_state(state)
        return state
    finally:
        await conn.close()


async def _complete(conn: asyncpg.Connection, state: BenchState, rows: int) -> bool:
    """The saved workspace still exists and holds exactly `rows` seeded contacts."""
    if state.rows != rows:
        return False
    found = await conn.fetchval("SELECT 1 FROM workspace WHERE id = $1", UUID(state.workspace_id))
    return bool(found) and await seeded_count(conn, state) == rows


def ensure(database: str, rows: int) -> BenchState:
    """Database, schema and seed, each only if missing."""
    asyncio.run(ensure_database(database))
    migrate(database)
    return asyncio.run(seed(database, rows))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--database", default="crm_bench")
    args = parser.parse_args()
    state = ensure(args.database, args.rows)
    print(json.dumps({"workspace_id": state.workspace_id, "rows": state.rows}))


if __name__ == "__main__":
    main()
