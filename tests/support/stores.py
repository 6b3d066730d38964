"""The real Postgres adapters a contract suite runs against: a unit of work factory on a
SQLAlchemy engine and the asyncpg read pool, both closed when the test is done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID, uuid4

from crm.adapters.postgres.engine import asyncpg_dsn, create_engine
from crm.adapters.postgres.readers import ReadPool
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.domain.model.workspace import Workspace
from crm.ports.unit_of_work import UnitOfWork


@asynccontextmanager
async def postgres(
    database_url: str,
) -> AsyncIterator[tuple[Callable[[], SqlAlchemyUnitOfWork], ReadPool]]:
    engine = create_engine(database_url)
    pool = ReadPool(asyncpg_dsn(database_url))
    await pool.open()
    try:
        yield (lambda: SqlAlchemyUnitOfWork(engine)), pool
    finally:
        await pool.close()
        await engine.dispose()


async def new_workspace(uow: Callable[[], UnitOfWork], name: str = "Acme") -> UUID:
    """A committed workspace, for records to belong to."""
    workspace = Workspace(uuid4(), name, datetime(2026, 1, 1, tzinfo=UTC))
    async with uow() as tx:
        await tx.workspaces.add(workspace)
        await tx.commit()
    return workspace.id
