"""Batch use-case throughput on PostgreSQL: 1,000-item BatchContacts calls, timed in-process.

    uv run python bench/batch_bench.py [--server postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throwaway database (migrated to head), a workspace, then runs three creates of
1,000 new contacts (emails, a phone, tags, an external id), two upserts by email of the first
thousand (every item updated) and one upsert by phone, printing one line per call; the
database is dropped at the end. The time is the use case's `execute`, all round trips included.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import asyncpg

from crm.adapters.memory.clock import ManualClock
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.postgres import migrations
from crm.adapters.postgres.engine import create_engine
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.model.permissions import ActorKind, Principal, Scope
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.use_cases.batch import BatchCommand, BatchContacts, BatchOperation
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand

ITEMS = 1000
CREATE, UPSERT = BatchOperation.CREATE, BatchOperation.UPSERT
RUNS: list[tuple[BatchOperation, str | None, int]] = [
    (CREATE, None, 0),
    (CREATE, None, 1),
    (CREATE, None, 2),
    (UPSERT, "email", 0),
    (UPSERT, "email", 0),
    (UPSERT, "phone", 0),
]


def items(batch: int, round_: int) -> list[dict[str, Any]]:
    return [
        {
            "first_name": f"P{i}",
            "last_name": "Bench",
            "emails": [f"p{i}-r{batch}@example.com"],
            "phones": [f"+1202{200 + batch:03d}{i:04d}"],
            "tags": ["imported"],
            "external_id": f"r{batch}-{i}",
            "job_title": f"title {round_}",
        }
        for i in range(ITEMS)
    ]


async def main(server: str) -> None:
    name = f"crm_bench_batch_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        engine = create_engine(url)
        uow = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
        clock, ids = ManualClock(), Uuid7Generator()
        created = await CreateWorkspace(uow, clock, ids, ApiKeySecrets(b"bench")).execute(
            CreateWorkspaceCommand("Bench")
        )
        scopes = frozenset({Scope.ADMIN})
        who = Principal(created.workspace.id, uuid.uuid4(), ActorKind.API_KEY, scopes=scopes)
        batch = BatchContacts(uow, clock, ids, LibPhoneNumbers())
        for n, (operation, match_on, rows) in enumerate(RUNS):
            cmd = BatchCommand(who, operation, items(rows, n), match_on)
            started = time.perf_counter()
            results = await batch.execute(cmd)
            seconds = time.perf_counter() - started
            statuses = sorted({r.status.value for r in results})
            print(
                f"{operation.value:6} match_on={match_on or '-':5} {ITEMS} items: "
                f"{seconds * 1000:6.0f} ms, {ITEMS / seconds:6.0f} items/s, {statuses}"
            )
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(main(parser.parse_args().server))
