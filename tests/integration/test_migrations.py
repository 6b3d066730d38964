"""Alembic is the only source of schema change: up from empty, down to nothing, no drift."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from crm.adapters.postgres import migrations
from crm.adapters.postgres.engine import asyncpg_dsn, create_engine
from crm.adapters.postgres.tables import metadata


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_up_from_empty_down_to_base_and_up_again(empty_database_url: str) -> None:
    url = empty_database_url
    assert await tables(url) == set()
    await asyncio.to_thread(migrations.upgrade, url)
    assert set(metadata.tables) | {"alembic_version"} == await tables(url)
    await asyncio.to_thread(migrations.downgrade, url)
    assert await tables(url) == {"alembic_version"}
    await asyncio.to_thread(migrations.upgrade, url)
    assert set(metadata.tables) <= await tables(url)


async def test_the_models_and_the_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []
