"""One contract for the persistence ports, run against the in-memory and the Postgres adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from crm.adapters.memory.readers import InMemoryApiKeyReader, InMemoryContactReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.engine import asyncpg_dsn, create_engine
from crm.adapters.postgres.readers import AsyncpgApiKeyReader, AsyncpgContactReader, ReadPool
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import AlreadyExists, EmailAlreadyInUse, VersionConflict
from crm.domain.model.contact import Contact
from crm.domain.model.contact_rules import LifecycleStage
from crm.domain.model.events import ContactCreated
from crm.domain.model.invitation import (
    INVITATION_TTL,
    Invitation,
    InvitationExists,
    InvitationStatus,
)
from crm.domain.model.permissions import Role, Scope
from crm.domain.model.workspace import ApiKey, Member, Membership, MemberView, User, Workspace
from crm.domain.pagination import Page, PageRequest, SortOrder
from crm.ports.repositories import ApiKeyReader, ContactReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.stores import new_workspace

IDS = Uuid7Generator()
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
T = TypeVar("T")


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


def user(n: int = 0, **fields: Any) -> User:
    values: dict[str, Any] = {
        "email": f"rep{n}@x.io",
        "display_name": f"Rep {n}",
        "created_at": T0 + timedelta(seconds=n),
        "firebase_uid": f"firebase-uid-{n}",
        "email_verified": True,
        "picture_url": f"https://img.x.io/{n}.png",
    }
    values.update(fields)
    return User(IDS.new_id(), **values)


def api_key(workspace_id: UUID, n: int = 0, **fields: Any) -> ApiKey:
    values: dict[str, Any] = {
        "name": f"key {n}",
        "prefix": f"crm_sk_{n:06d}",
        "secret_hash": IDS.new_id().hex * 2,
        "scopes": frozenset({Scope.CONTACTS_READ}),
        "created_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return ApiKey(IDS.new_id(), workspace_id, **values)


def invitation(workspace_id: UUID, n: int = 0, **fields: Any) -> Invitation:
    at = T0 + timedelta(seconds=n)
    values: dict[str, Any] = {
        "email": f"guest{n}@x.io",
        "role": Role.MEMBER,
        "invited_by": uuid4(),
        "nonce_hash": uuid4().hex * 2,
        "created_at": at,
        "expires_at": at + INVITATION_TTL,
    }
    values.update(fields)
    return Invitation(IDS.new_id(), workspace_id, **values)


async def every_page(fetch: Callable[[PageRequest], Awaitable[Page[T]]], limit: int) -> list[T]:
    """Follow the cursor from the first page to the last; every page but the last is full."""
    seen: list[T] = []
    after = None
    for _ in range(100):
        page = await fetch(PageRequest(limit, after, SortOrder.OLDEST_FIRST))
        seen += page.items
        if page.next is None:
            return seen
        assert len(page.items) == limit
        after = page.next
    raise AssertionError("the cursor never reached the last page")


class PersistenceContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        ws = Workspace(IDS.new_id(), "Acme", T0)
        async with subject.uow() as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        return ws.id

    async def new_workspace(self, subject: Subject, name: str = "Other") -> UUID:
        return await new_workspace(subject.uow, name)

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

    # Users

    async def test_a_user_reads_back_equal_after_save(self, subject: Subject) -> None:
        person, bare = user(1), User(IDS.new_id(), None, None, T0)
        async with subject.uow() as uow:
            await uow.users.add(person)
            await uow.users.add(bare)
            await uow.commit()
        async with subject.uow() as uow:
            stored = await uow.users.get_by_uid("firebase-uid-1")
            assert stored == person
            assert stored is not None
            stored.email, stored.display_name = "new@x.io", "New Name"
            stored.email_verified, stored.picture_url = False, None
            await uow.users.save(stored)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.users.get(person.id) == stored
            assert await uow.users.get_by_uid("firebase-uid-1") == stored
            assert await uow.users.get(bare.id) == bare
            assert await uow.users.get(uuid4()) is None
            assert await uow.users.get_by_uid("nobody") is None

    async def test_a_firebase_uid_belongs_to_one_user(self, subject: Subject) -> None:
        first = user(1, firebase_uid="uid-x")
        async with subject.uow() as uow:
            await uow.users.add(first)
            await uow.commit()
        second, third = user(2, firebase_uid="uid-x"), user(3)
        async with subject.uow() as uow:
            with pytest.raises(AlreadyExists):
                await uow.users.add(second)
            # The refused insert leaves the unit of work usable.
            await uow.users.add(third)
            await uow.commit()
        # People without a uid do not collide with each other.
        no_uid = [user(n, firebase_uid=None) for n in (4, 5)]
        async with subject.uow() as uow:
            for u in no_uid:
                await uow.users.add(u)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.users.get_by_uid("uid-x") == first
            assert await uow.users.get(second.id) is None
            assert await uow.users.get(third.id) == third
            assert [await uow.users.get(u.id) for u in no_uid] == no_uid

    # Members

    async def test_member_pages_cover_everyone_once_oldest_first(
        self, subject: Subject, workspace: UUID
    ) -> None:
        other = await self.new_workspace(subject)
        people = [user(n) for n in range(5)]
        # Two joined in the same microsecond, on both sides of a page boundary: ordered by id.
        minutes = (2, 1, 2, 3, 4)
        members = [
            Member(workspace, u.id, Role.MEMBER, T0 + timedelta(minutes=m))
            for u, m in zip(people, minutes, strict=True)
        ]
        async with subject.uow() as uow:
            for u in people:
                await uow.users.add(u)
            for m in reversed(members):
                await uow.members.add(m)
            await uow.members.add(Member(other, people[0].id, Role.OWNER, T0))
            await uow.commit()
        async with subject.uow() as uow:
            listed = await every_page(lambda p: uow.members.list(workspace, p), 2)
        profiles = {u.id: u for u in people}
        expected = [
            MemberView(
                m,
                profiles[m.user_id].email,
                profiles[m.user_id].display_name,
                profiles[m.user_id].picture_url,
            )
            for m in sorted(members, key=lambda m: (m.created_at, m.user_id))
        ]
        assert listed == expected

    async def test_a_persons_workspaces_page_oldest_first(
        self, subject: Subject, workspace: UUID
    ) -> None:
        me, colleague = user(1), user(2)
        spaces = [Workspace(IDS.new_id(), f"W{n}", T0 + timedelta(days=n)) for n in range(4)]
        acme = Workspace(workspace, "Acme", T0)
        joined = [
            Membership(spaces[2], Role.MEMBER, T0 + timedelta(minutes=3)),
            Membership(spaces[0], Role.ADMIN, T0 + timedelta(minutes=1)),
            Membership(spaces[1], Role.MEMBER, T0 + timedelta(minutes=2)),
            Membership(acme, Role.OWNER, T0 + timedelta(minutes=2)),
        ]
        async with subject.uow() as uow:
            for ws in spaces:
                await uow.workspaces.add(ws)
            for u in (me, colleague):
                await uow.users.add(u)
            for m in joined:
                assert m.role is not None
                await uow.members.add(Member(m.workspace.id, me.id, m.role, m.joined_at))
            await uow.members.add(Member(spaces[3].id, colleague.id, Role.OWNER, T0))
            await uow.commit()
        async with subject.uow() as uow:
            listed = await every_page(lambda p: uow.members.list_for_user(me.id, p), 2)
            assert await every_page(lambda p: uow.members.list_for_user(uuid4(), p), 2) == []
        assert listed == sorted(joined, key=lambda m: (m.joined_at, m.workspace.id))

    async def test_owners_are_counted_and_members_removed(
        self, subject: Subject, workspace: UUID
    ) -> None:
        other = await self.new_workspace(subject)
        a, b, c = user(1), user(2), user(3)
        async with subject.uow() as uow:
            for u in (a, b, c):
                await uow.users.add(u)
            await uow.members.add(Member(workspace, a.id, Role.OWNER, T0))
            await uow.members.add(Member(workspace, b.id, Role.OWNER, T0 + timedelta(seconds=1)))
            await uow.members.add(Member(workspace, c.id, Role.ADMIN, T0 + timedelta(seconds=2)))
            await uow.members.add(Member(other, c.id, Role.OWNER, T0))
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.members.count_owners(workspace) == 2
            assert await uow.members.count_owners(other) == 1
            assert await uow.members.count_owners(uuid4()) == 0
            demoted, leaving = (
                await uow.members.get(workspace, b.id),
                await uow.members.get(workspace, a.id),
            )
            assert demoted is not None
            assert leaving is not None
            demoted.role = Role.MEMBER
            await uow.members.save(demoted)
            await uow.members.remove(leaving)
            assert await uow.members.count_owners(workspace) == 0
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.members.get(workspace, a.id) is None
            assert await uow.members.get(workspace, b.id) == Member(
                workspace, b.id, Role.MEMBER, T0 + timedelta(seconds=1)
            )
            listed = await every_page(lambda p: uow.members.list(workspace, p), 10)
            assert [v.member.user_id for v in listed] == [b.id, c.id]
            assert await uow.members.count_owners(workspace) == 0
            assert await uow.members.count_owners(other) == 1
            # Leaving a workspace keeps the person and their other memberships.
            assert await uow.users.get(a.id) == a
            assert await uow.members.get(other, c.id) == Member(other, c.id, Role.OWNER, T0)

    # Invitations

    async def test_an_invitation_reads_back_equal(self, subject: Subject, workspace: UUID) -> None:
        guest = user(1, email="guest1@x.io")
        inv = invitation(workspace, 1, role=Role.ADMIN)
        async with subject.uow() as uow:
            await uow.users.add(guest)
            await uow.invitations.add(inv)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.invitations.get(workspace, inv.id) == inv
            assert await uow.invitations.find(inv.id) == inv
            assert await uow.invitations.get(uuid4(), inv.id) is None
            assert await uow.invitations.find(uuid4()) is None
            stored = await uow.invitations.get(workspace, inv.id)
            assert stored is not None
            stored.record_delivery(T0 + timedelta(minutes=1), "unavailable: timed out")
            stored.record_delivery(T0 + timedelta(minutes=2), None)
            stored.renew("n" * 64, T0 + timedelta(minutes=3))
            await uow.invitations.save(stored)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.invitations.find(inv.id) == stored
            assert stored.send_attempts == 2
            stored.accept(guest.id, "guest1@x.io", True, T0 + timedelta(minutes=4))
            await uow.invitations.save(stored)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.invitations.get(workspace, inv.id) == stored

    async def test_one_open_invitation_per_address(self, subject: Subject, workspace: UUID) -> None:
        other = await self.new_workspace(subject)
        # Long expired yet still open: the use case resends it rather than inviting again.
        first = invitation(workspace, 1, email="x@x.io", expires_at=T0 + timedelta(seconds=2))
        async with subject.uow() as uow:
            await uow.invitations.add(first)
            await uow.commit()
        async with subject.uow() as uow:
            with pytest.raises(InvitationExists) as excinfo:
                await uow.invitations.add(invitation(workspace, 2, email="x@x.io"))
        assert excinfo.value.errors[0].field == "/email"
        elsewhere, another = invitation(other, 3, email="x@x.io"), invitation(workspace, 4)
        async with subject.uow() as uow:
            await uow.invitations.add(elsewhere)
            await uow.invitations.add(another)
            await uow.commit()
        async with subject.uow() as uow:
            listed = await every_page(lambda p: uow.invitations.list(workspace, p), 10)
            assert [i.id for i in listed] == [first.id, another.id]
            assert await uow.invitations.find(elsewhere.id) == elsewhere

    async def test_a_spent_invitation_frees_the_address(
        self, subject: Subject, workspace: UUID
    ) -> None:
        guest = user(1, email="x@x.io")
        first, second, third = (invitation(workspace, n, email="x@x.io") for n in (1, 2, 3))
        async with subject.uow() as uow:
            await uow.users.add(guest)
            await uow.invitations.add(first)
            await uow.commit()
        async with subject.uow() as uow:
            revoked = await uow.invitations.get(workspace, first.id)
            assert revoked is not None
            revoked.revoke(T0 + timedelta(minutes=1))
            await uow.invitations.save(revoked)
            await uow.invitations.add(second)
            await uow.commit()
        async with subject.uow() as uow:
            accepted = await uow.invitations.get(workspace, second.id)
            assert accepted is not None
            accepted.accept(guest.id, "x@x.io", True, T0 + timedelta(minutes=2))
            await uow.invitations.save(accepted)
            await uow.invitations.add(third)
            await uow.commit()
        async with subject.uow() as uow:
            with pytest.raises(InvitationExists):
                await uow.invitations.add(invitation(workspace, 4, email="x@x.io"))
        async with subject.uow() as uow:
            listed = await every_page(lambda p: uow.invitations.list(workspace, p), 2)
        now = T0 + timedelta(minutes=3)
        assert [(i.id, i.status(now)) for i in listed] == [
            (first.id, InvitationStatus.REVOKED),
            (second.id, InvitationStatus.ACCEPTED),
            (third.id, InvitationStatus.PENDING),
        ]

    async def test_invitation_pages_cover_the_workspace_once(
        self, subject: Subject, workspace: UUID
    ) -> None:
        other = await self.new_workspace(subject)
        made = [invitation(workspace, n) for n in range(5)]
        made.append(invitation(workspace, 5, created_at=made[1].created_at))
        async with subject.uow() as uow:
            for i in reversed(made):
                await uow.invitations.add(i)
            await uow.invitations.add(invitation(other, 9))
            await uow.commit()
        async with subject.uow() as uow:
            listed = await every_page(lambda p: uow.invitations.list(workspace, p), 2)
        assert listed == sorted(made, key=lambda i: (i.created_at, i.id))

    # API keys

    async def test_api_key_pages_show_the_workspace_keys_once(
        self, subject: Subject, workspace: UUID
    ) -> None:
        other = await self.new_workspace(subject)
        creator = uuid4()
        made = [
            api_key(
                workspace,
                n,
                scopes=frozenset(list(Scope)[: n + 1]),
                expires_at=None if n % 2 else T0 + timedelta(days=n + 1, microseconds=n),
                created_by=None if n % 2 else creator,
                revoked_at=T0 + timedelta(hours=1) if n == 3 else None,
            )
            for n in range(4)
        ]
        made.append(api_key(workspace, 4, scopes=frozenset(Scope), created_at=made[1].created_at))
        foreign = api_key(other, 9)
        async with subject.uow() as uow:
            for k in reversed(made):
                await uow.api_keys.add(k)
            await uow.api_keys.add(foreign)
            await uow.commit()
        async with subject.uow() as uow:
            listed = await every_page(lambda p: uow.api_keys.list(workspace, p), 2)
            assert await every_page(lambda p: uow.api_keys.list(other, p), 2) == [foreign]
            assert await every_page(lambda p: uow.api_keys.list(uuid4(), p), 2) == []
        assert listed == sorted(made, key=lambda k: (k.created_at, k.id))

    async def test_touch_records_the_use_of_a_live_key(
        self, subject: Subject, workspace: UUID
    ) -> None:
        live, revoked = api_key(workspace, 1), api_key(workspace, 2, revoked_at=T0)
        async with subject.uow() as uow:
            await uow.api_keys.add(live)
            await uow.api_keys.add(revoked)
            await uow.commit()
        at = T0 + timedelta(hours=1, microseconds=7)
        await subject.api_keys.touch(live.id, at)
        await subject.api_keys.touch(revoked.id, at)
        await subject.api_keys.touch(uuid4(), at)
        found = await subject.api_keys.find_by_hash(live.secret_hash)
        assert found is not None
        assert found.last_used_at == at
        untouched = await subject.api_keys.find_by_hash(revoked.secret_hash)
        assert untouched is not None
        assert untouched.last_used_at is None
        later = at + timedelta(minutes=1)
        await subject.api_keys.touch(live.id, later)
        async with subject.uow() as uow:
            stored = await uow.api_keys.get(workspace, live.id)
            assert stored is not None
            assert stored.last_used_at == later

    @pytest.mark.parametrize("saves_the_key", [True, False])
    async def test_a_touch_outlives_a_unit_of_work_open_at_the_time(
        self, subject: Subject, workspace: UUID, saves_the_key: bool
    ) -> None:
        key = api_key(workspace, 1)
        async with subject.uow() as uow:
            await uow.api_keys.add(key)
            await uow.commit()
        at = T0 + timedelta(hours=1)
        async with subject.uow() as uow:
            stored = await uow.api_keys.get(workspace, key.id)
            assert stored is not None
            await subject.api_keys.touch(key.id, at)
            if saves_the_key:
                stored.name = "renamed"
                await uow.api_keys.save(stored)
            else:
                await uow.contacts.add(contact(workspace))
            await uow.commit()
        found = await subject.api_keys.find_by_hash(key.secret_hash)
        assert found is not None
        assert found.name == ("renamed" if saves_the_key else key.name)
        assert found.last_used_at == at

    # Workspaces

    async def test_lock_loads_the_workspace(self, subject: Subject, workspace: UUID) -> None:
        owner = user(1)
        async with subject.uow() as uow:
            assert await uow.workspaces.lock(workspace) == Workspace(workspace, "Acme", T0)
            assert await uow.workspaces.lock(uuid4()) is None
            # The holder of the lock goes on changing the workspace's memberships.
            await uow.users.add(owner)
            await uow.members.add(Member(workspace, owner.id, Role.OWNER, T0))
            assert await uow.members.count_owners(workspace) == 1
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.members.get(workspace, owner.id) is not None


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

    async def test_a_locked_workspace_makes_the_next_transaction_wait(
        self, subject: Subject, workspace: UUID, database_url: str
    ) -> None:
        owner = user(1)

        async def second() -> int:
            async with subject.uow() as uow:
                assert await uow.workspaces.lock(workspace) is not None
                return await uow.members.count_owners(workspace)

        async with subject.uow() as first:
            assert await first.workspaces.lock(workspace) is not None
            waiting = asyncio.create_task(second())
            try:
                await _until_a_transaction_waits_for_a_lock(database_url)
                assert not waiting.done()
                await first.users.add(owner)
                await first.members.add(Member(workspace, owner.id, Role.OWNER, T0))
                await first.commit()
            except BaseException:
                waiting.cancel()
                raise
        # It went on only after the commit, and saw the owner the first one added.
        assert await asyncio.wait_for(waiting, 30) == 1


async def _until_a_transaction_waits_for_a_lock(database_url: str) -> None:
    """Poll until some backend of the test's database waits on a lock (no timing assumed:
    the deadline only turns a hang into a failure)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for _ in range(3000):
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    raise AssertionError("no transaction ever waited for the workspace lock")
