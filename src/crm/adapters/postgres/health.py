"""Readiness of PostgreSQL: a trivial query on the read pool."""

from __future__ import annotations

from crm.adapters.postgres.readers import ReadPool


class PostgresHealthCheck:
    name = "postgres"

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def check(self) -> None:
        await self._pool.fetchrow("SELECT 1")
