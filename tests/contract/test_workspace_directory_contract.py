"""One contract for the workspace directory (`crm workspace list`), on memory and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest_asyncio

from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.memory.workspace_directory import InMemoryWorkspaceDirectory
from crm.adapters.postgres.workspace_directory import AsyncpgWorkspaceDirectory
from crm.domain.model.permissions import Role, Scope
from crm.domain.model.workspace import ApiKey, Member, User, Workspace
from crm.ports.unit_of_work import UnitOfWorkFactory
from crm.ports.workspace_directory import WorkspaceDirectory
from tests.support.stores import postgres

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    directory: WorkspaceDirectory


def key(
    workspace: Workspace, expires_at: datetime | None = None, revoked_at: datetime | None = None
) -> ApiKey:
    secret = uuid4().hex
    scopes = frozenset({Scope.ADMIN})
    return ApiKey(
        uuid4(),
        workspace.id,
        "k",
        secret[:8],
        secret,
        scopes,
        NOW,
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


class WorkspaceDirectoryContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    async def test_every_workspace_oldest_first_with_members_and_usable_keys(
        self, subject: Subject
    ) -> None:
        older = Workspace(uuid4(), "Older", NOW - timedelta(days=2))
        newer = Workspace(uuid4(), "Newer", NOW - timedelta(days=1))
        people = [User(uuid4(), None, None, NOW) for _ in range(2)]
        async with subject.uow() as tx:
            for workspace in (newer, older):
                await tx.workspaces.add(workspace)
            for person in people:
                await tx.users.add(person)
                await tx.members.add(Member(older.id, person.id, Role.MEMBER, NOW))
            for made in (
                key(older),
                key(older, expires_at=NOW + timedelta(hours=1)),
                key(older, expires_at=NOW),  # expired at this very instant
                key(older, revoked_at=NOW - timedelta(hours=1)),
            ):
                await tx.api_keys.add(made)
            await tx.commit()
        found = await subject.directory.summaries(NOW)
        assert [(s.workspace, s.members, s.api_keys) for s in found] == [
            (older, 2, 2),
            (newer, 0, 0),
        ]


class TestInMemoryWorkspaceDirectory(WorkspaceDirectoryContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store), InMemoryWorkspaceDirectory(store))


class TestPostgresWorkspaceDirectory(WorkspaceDirectoryContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgWorkspaceDirectory(pool))
