"""One contract for the persistence ports, run against the in-memory and the Postgres adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from crm.adapters.memory.readers import InMemoryApiKeyReader, InMemoryContactReader
from crm.adapters.memory.store import InMemoryUnitOfWork, MemoryStore
from crm.adapters.postgres.engine import asyncpg_dsn, create_engine
from crm.adapters.postgres.readers import AsyncpgApiKeyReader, AsyncpgContactReader, ReadPool
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import EmailAlreadyInUse, VersionConflict
from crm.domain.model.contact import Contact
from crm.domain.model.contact_rules import LifecycleStage
from crm.domain.model.events import ContactCreated
from crm.domain.model.permissions import Role, Scope
from crm.domain.model.workspace import ApiKey, Member, User, Workspace
from crm.domain.pagination import PageRequest, SortOrder
from crm.ports.repositories import ApiKeyReader, ContactReader
from crm.ports.unit_of_work import UnitOfWorkFactory

IDS = Uuid7Generator()
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    contacts: ContactReader
    api_keys: ApiKeyReader
    outbox_topics: Callable[[], Any]


def contact(workspace_id: UUID, n: int = 0, **fields: Any) -> Contact:
    values: dict[str, Any] = {
        "display_name": None,
        "first_name": f"Ada{n}",
        "last_name": "Lovelace",
        "emails": (f"ada{n}@example.com",),
        "phones": ("+14155552671",),
        "job_title": "Analyst",
        "company_name": "Engines",
        "owner_id": None,
        "tags": ("vip",),
        "lifecycle_stage": LifecycleStage.CUSTOMER,
        "custom_fields": {"score": 7, "ok": True},
    }
    at = T0 + timedelta(seconds=n)
    values.update(created_at=at, updated_at=at)
    values.update(fields)
    return Contact(IDS.new_id(), workspace_id, **values)


class PersistenceContract:
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        raise NotImplementedError
        yield

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        ws = Workspace(IDS.new_id(), "Acme", T0)
        async with subject.uow() as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        return ws.id

    async def add(self, subject: Subject, *contacts: Contact) -> None:
        async with subject.uow() as uow:
            for c in contacts:
                await uow.contacts.add(c)
            await uow.commit()

    async def test_a_contact_reads_back_equal(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace)
        await self.add(subject, c)
        assert await subject.contacts.get(workspace, c.id) == c
        async with subject.uow() as uow:
            assert await uow.contacts.get_for_update(workspace, c.id) == c

    async def test_another_workspace_cannot_read_it(
        self, subject: Subject, workspace: UUID
    ) -> None:
        c = contact(workspace)
        await self.add(subject, c)
        assert await subject.contacts.get(uuid4(), c.id) is None
        async with subject.uow() as uow:
            assert await uow.contacts.get_for_update(uuid4(), c.id) is None

    async def test_nothing_is_kept_without_commit(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace)
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.outbox.add([_event(c)])
        assert await subject.contacts.get(workspace, c.id) is None
        assert await subject.outbox_topics() == []

    async def test_events_commit_with_the_change(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace)
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.outbox.add([_event(c)])
            await uow.commit()
        assert await subject.outbox_topics() == ["contact.created"]

    async def test_an_email_belongs_to_one_contact(self, subject: Subject, workspace: UUID) -> None:
        await self.add(subject, contact(workspace, 1, emails=("a@x.io",)))
        with pytest.raises(EmailAlreadyInUse) as excinfo:
            await self.add(subject, contact(workspace, 2, emails=("b@x.io", "a@x.io")))
        assert excinfo.value.errors[0].field == "/emails/1"
        assert len((await subject.contacts.list(workspace, PageRequest())).items) == 1

    async def test_save_moves_emails(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace, 1, emails=("a@x.io", "b@x.io"))
        await self.add(subject, c)
        async with subject.uow() as uow:
            c.emails, c.version, c.tags = ("b@x.io", "c@x.io"), 2, ()
            await uow.contacts.save(c, expected_version=1)
            await uow.commit()
        assert await subject.contacts.get(workspace, c.id) == c
        await self.add(subject, contact(workspace, 2, emails=("a@x.io",)))
        with pytest.raises(EmailAlreadyInUse):
            await self.add(subject, contact(workspace, 3, emails=("c@x.io",)))

    async def test_a_stale_save_is_refused(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace)
        await self.add(subject, c)
        async with subject.uow() as uow:
            c.version = 5
            with pytest.raises(VersionConflict):
                await uow.contacts.save(c, expected_version=4)

    async def test_remove_frees_the_emails(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace, emails=("a@x.io",))
        await self.add(subject, c)
        async with subject.uow() as uow:
            await uow.contacts.remove(c)
            await uow.commit()
        assert await subject.contacts.get(workspace, c.id) is None
        await self.add(subject, contact(workspace, 2, emails=("a@x.io",)))

    @pytest.mark.parametrize("order", list(SortOrder))
    async def test_keyset_pages_cover_everything_once(
        self, subject: Subject, workspace: UUID, order: SortOrder
    ) -> None:
        made = [contact(workspace, n) for n in range(11)]
        # Two contacts created in the same microsecond are still ordered, by id.
        made.append(contact(workspace, 100, created_at=made[5].created_at))
        await self.add(subject, *made)
        seen, after = [], None
        while True:
            page = await subject.contacts.list(workspace, PageRequest(4, after, order))
            seen += [c.id for c in page.items]
            if page.next is None:
                break
            after = page.next
        expected = sorted(made, key=lambda c: (c.created_at, c.id))
        if order is SortOrder.NEWEST_FIRST:
            expected.reverse()
        assert seen == [c.id for c in expected]

    async def test_api_keys_by_hash_and_revocation(self, subject: Subject, workspace: UUID) -> None:
        key = ApiKey(
            IDS.new_id(),
            workspace,
            "ci",
            "crm_sk_abc",
            "h" * 64,
            frozenset({Scope.CONTACTS_READ, Scope.DEALS_WRITE}),
            T0,
            expires_at=T0 + timedelta(days=30),
        )
        async with subject.uow() as uow:
            await uow.api_keys.add(key)
            await uow.commit()
        assert await subject.api_keys.find_by_hash("h" * 64) == key
        async with subject.uow() as uow:
            stored = await uow.api_keys.get(workspace, key.id)
            assert stored == key
            assert await uow.api_keys.get(uuid4(), key.id) is None
            stored.revoke(T0)
            await uow.api_keys.save(stored)
            await uow.commit()
        found = await subject.api_keys.find_by_hash("h" * 64)
        assert found is not None
        assert not found.is_active

    async def test_members(self, subject: Subject, workspace: UUID) -> None:
        user = User(IDS.new_id(), "rep@x.io", "Rep", T0, "firebase-uid-1", True)
        async with subject.uow() as uow:
            await uow.users.add(user)
            await uow.members.add(Member(workspace, user.id, Role.ADMIN, T0))
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.users.get_by_uid("firebase-uid-1") == user
            assert await uow.users.get(user.id) == user
            assert (await uow.members.get(workspace, user.id)) == Member(
                workspace, user.id, Role.ADMIN, T0
            )
            assert await uow.members.get(uuid4(), user.id) is None


def _event(c: Contact) -> ContactCreated:
    return ContactCreated(
        id=IDS.new_id(),
        workspace_id=c.workspace_id,
        aggregate_id=c.id,
        occurred_at=T0,
        actor_id=None,
        payload={"id": str(c.id)},
    )


class TestInMemory(PersistenceContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()

        async def topics() -> list[str]:
            return [e.topic for e in store.state.outbox]

        yield Subject(
            lambda: InMemoryUnitOfWork(store),
            InMemoryContactReader(store),
            InMemoryApiKeyReader(store),
            topics,
        )


class TestPostgres(PersistenceContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        engine = create_engine(database_url)
        pool = ReadPool(asyncpg_dsn(database_url))
        await pool.open()

        async def topics() -> list[str]:
            conn = await asyncpg.connect(asyncpg_dsn(database_url))
            try:
                return [r["topic"] for r in await conn.fetch("SELECT topic FROM outbox_event")]
            finally:
                await conn.close()

        yield Subject(
            lambda: SqlAlchemyUnitOfWork(engine),
            AsyncpgContactReader(pool),
            AsyncpgApiKeyReader(pool),
            topics,
        )
        await pool.close()
        await engine.dispose()
