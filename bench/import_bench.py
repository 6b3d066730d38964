"""CSV import throughput: N contacts through POST /v1/imports on the real server.

    uv run python bench/import_bench.py [--rows 100000] [--database crm_bench_import]

Generates a contacts CSV (unique emails, names, phones, tags, a custom field), recreates the
benchmark database, makes a workspace and its key with the service's own CLI, starts `crm
serve` (Postgres + Redis, as bench/run.py does), uploads the file, polls GET /v1/imports/{id}
until it is done and prints one table row per run: a first import (every row created), then
the same file again with dedupe=update (every row matched, nothing to change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import seed
import servers

OUT = seed.BENCH_DIR / "results" / "import"
MAPPING = {
    "Email": "emails",
    "First name": "first_name",
    "Last name": "last_name",
    "Phone": "phones",
    "Company": "company_name",
    "Tags": "tags",
    "Tier": "custom_fields.tier",
}


@dataclass(frozen=True)
class Run:
    name: str
    rows: int
    accepted_s: float
    seconds: float
    server_cpu_s: float
    progress: dict[str, int]

    def line(self) -> str:
        p = self.progress
        return (
            f"| {self.name} | {self.rows:,} | {self.accepted_s:.2f} | {self.seconds:.1f} | "
            f"{self.rows / self.seconds:,.0f} | {self.server_cpu_s:.1f} | {p['created']:,} | "
            f"{p['updated']:,} | {p['unchanged']:,} | {p['skipped']:,} | {p['failed']:,} |"
        )


HEADER = (
    "| run | rows | 202 after (s) | done after (s) | rows/s | server CPU (s) | created | "
    "updated | unchanged | skipped | failed |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def write_csv(path: Path, rows: int) -> None:
    """Deterministic contacts: unique email and phone per row."""
    if path.exists():
        return
    rng = random.Random(5)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(MAPPING) + "\r\n")
        for i in range(rows):
            first, last = rng.choice(seed.FIRST_NAMES), rng.choice(seed.LAST_NAMES)
            phone = f"+1{rng.choice(seed.AREA_CODES)}{2_000_000 + i:07d}"
            tags = ";".join(rng.sample(seed.TAGS, rng.randint(0, 3)))
            company = rng.choice(seed.COMPANIES) or ""
            tier = rng.choice(("gold", "silver", "bronze"))
            email = f"{first}.{last}.{i}@example.com".lower()
            out.write(f"{email},{first},{last},{phone},{company},{tags},{tier}\r\n")


async def fresh_database(database: str) -> None:
    conn = await asyncpg.connect(seed.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def autovacuum_is_on(database: str) -> bool:
    conn = await asyncpg.connect(seed.dsn(database))
    try:
        return bool(await conn.fetchval("SELECT current_setting('autovacuum') = 'on'"))
    finally:
        await conn.close()


def analyze_meanwhile(database: str, stop: threading.Event, every: float = 5.0) -> None:
    """ANALYZE the tables an import fills, every few seconds: what autovacuum does (after each
    10% of changes) where it runs. Without statistics the planner takes a fresh table for
    empty and the batch's lookups scan every row of the workspace, once per chunk."""

    async def loop() -> None:
        conn = await asyncpg.connect(seed.dsn(database))
        try:
            while not stop.is_set():
                await conn.execute("ANALYZE contact; ANALYZE contact_email")
                await asyncio.to_thread(stop.wait, every)
        finally:
            await conn.close()

    asyncio.run(loop())


def import_once(
    server: servers.Server, client: httpx.Client, csv_path: Path, name: str, dedupe: str
) -> Run:
    form = {"object_type": "contacts", "mapping": json.dumps(MAPPING), "dedupe": dedupe}
    cpu_before, started = servers.cpu_seconds(server), time.monotonic()
    with csv_path.open("rb") as file:
        answer = client.post("/v1/imports", data=form, files={"file": (csv_path.name, file)})
    accepted = time.monotonic() - started
    if answer.status_code != 202:
        raise RuntimeError(f"upload refused: {answer.status_code} {answer.text}")
    job: dict[str, Any] = answer.json()
    while job["status"] not in ("done", "failed"):
        time.sleep(0.1)
        job = client.get(answer.headers["location"]).json()
    seconds = time.monotonic() - started
    if job["status"] != "done":
        raise RuntimeError(f"import failed: {job}")
    cpu = servers.cpu_seconds(server) - cpu_before
    return Run(name, job["progress"]["rows_total"], accepted, seconds, cpu, job["progress"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default="crm_bench_import")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE every 5 s during the runs, as autovacuum would (it is off on some test "
        "servers: the script says so)",
    )
    args = parser.parse_args()
    csv_path = OUT / f"contacts-{args.rows}.csv"
    write_csv(csv_path, args.rows)
    seed.log(f"{csv_path}: {csv_path.stat().st_size / 1e6:.1f} MB")
    asyncio.run(fresh_database(args.database))
    seed.migrate(args.database)
    _, key = seed.create_workspace(args.database)
    if not asyncio.run(autovacuum_is_on(args.database)):
        seed.log("autovacuum is off on this server: no statistics unless --analyze")
    stop = threading.Event()
    if args.analyze:
        threading.Thread(target=analyze_meanwhile, args=(args.database, stop), daemon=True).start()
    server = servers.start_ours(key, 10, seed.service_env(args.database), OUT)
    try:
        servers.wait_ready(server, "/v1/contacts?limit=1")
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=300) as c:
            field = {"object_type": "contact", "key": "tier", "label": "Tier", "field_type": "text"}
            c.post("/v1/custom-fields", json=field).raise_for_status()
            runs = [
                import_once(server, c, csv_path, "new contacts (dedupe=skip)", "skip"),
                import_once(server, c, csv_path, "same file again (dedupe=update)", "update"),
            ]
    finally:
        stop.set()
        server.stop()
    print(HEADER)
    for run in runs:
        print(run.line())


if __name__ == "__main__":
    main()
