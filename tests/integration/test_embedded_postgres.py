"""Embedded PostgreSQL: starts in an empty folder, serves asyncpg, has pg_trgm and citext."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from crm.adapters.postgres.embedded import start_embedded_postgres, stop_embedded_postgres


async def test_embedded_postgres_serves_asyncpg_with_trgm_and_citext(tmp_path: Path) -> None:
    url = await asyncio.to_thread(start_embedded_postgres, tmp_path, database="crm_embedded")
    try:
        assert url.startswith("postgresql+asyncpg://postgres@/crm_embedded?host=")
        conn = await asyncpg.connect(url.replace("+asyncpg", "", 1))
        try:
            await conn.execute("CREATE EXTENSION pg_trgm; CREATE EXTENSION citext")
            assert await conn.fetchval("SELECT current_database()") == "crm_embedded"
            assert await conn.fetchval("SELECT similarity('contact', 'contacts') > 0.5")
            assert await conn.fetchval("SELECT 'Ada@Example.COM'::citext = 'ada@example.com'")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(stop_embedded_postgres, tmp_path)
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
