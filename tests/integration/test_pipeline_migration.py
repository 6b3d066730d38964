"""Migration 0004 gives every existing workspace the same default pipeline as a new one gets."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from crm.adapters.postgres import migrations
from crm.adapters.postgres.engine import asyncpg_dsn
from crm.domain.model.pipeline import DEFAULT_PIPELINE_NAME, DEFAULT_STAGES


async def test_existing_workspaces_get_the_default_sales_pipeline(empty_database_url: str) -> None:
    url = empty_database_url
    await asyncio.to_thread(migrations.upgrade, url, "0003")
    workspaces = [uuid.uuid4(), uuid.uuid4()]
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for ws in workspaces:
            await conn.execute(
                "INSERT INTO workspace (id, name, created_at) VALUES ($1, 'Old', now())", ws
            )
        await asyncio.to_thread(migrations.upgrade, url)
        for ws in workspaces:
            [pipeline] = await conn.fetch(
                "SELECT id, name, is_default, version FROM pipeline WHERE workspace_id = $1", ws
            )
            assert (pipeline["name"], pipeline["is_default"], pipeline["version"]) == (
                DEFAULT_PIPELINE_NAME,
                True,
                1,
            )
            stages = await conn.fetch(
                "SELECT name, probability, kind, position, workspace_id FROM pipeline_stage"
                " WHERE pipeline_id = $1 ORDER BY position",
                pipeline["id"],
            )
            assert [(s["name"], s["probability"], s["kind"]) for s in stages] == [
                (name, probability, kind.value) for name, probability, kind in DEFAULT_STAGES
            ]
            assert [s["position"] for s in stages] == list(range(len(DEFAULT_STAGES)))
            assert {s["workspace_id"] for s in stages} == {ws}
    finally:
        await conn.close()
