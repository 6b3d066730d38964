"""The SQLAlchemy unit of work: one connection and one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm.adapters.postgres import repositories as repos
from crm.adapters.postgres.errors import unavailable_as_port_error
from crm.ports.repositories import (
    ApiKeyRepository,
    ContactRepository,
    MemberRepository,
    Outbox,
    UserRepository,
    WorkspaceRepository,
)


class SqlAlchemyUnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __aenter__(self) -> Self:
        with unavailable_as_port_error():
            self._conn: AsyncConnection = await self._engine.connect()
            await self._conn.begin()
        self.workspaces: WorkspaceRepository = repos.SqlWorkspaceRepository(self._conn)
        self.users: UserRepository = repos.SqlUserRepository(self._conn)
        self.members: MemberRepository = repos.SqlMemberRepository(self._conn)
        self.api_keys: ApiKeyRepository = repos.SqlApiKeyRepository(self._conn)
        self.contacts: ContactRepository = repos.SqlContactRepository(self._conn)
        self.outbox: Outbox = repos.SqlOutbox(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()

    async def commit(self) -> None:
        with unavailable_as_port_error():
            await self._conn.commit()
