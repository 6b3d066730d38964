from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.credentials import InMemoryCredentialInvalidation
from crm.adapters.memory.identity import InMemoryIdentityVerifier
from crm.adapters.memory.merges import InMemoryTombstoneReader
from crm.adapters.memory.readers import InMemoryApiKeyReader, InMemoryContactReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    ApiKeyRevoked,
    ContactNotFound,
    EmailAlreadyInUse,
    InvalidInput,
    VersionConflict,
)
from crm.domain.model.permissions import ActorKind, Principal, Role, Scope
from crm.domain.model.workspace import ApiKeySecrets, Member, User
from crm.domain.pagination import PageRequest
from crm.domain.use_cases.authenticate import Authenticate, InvalidCredentials
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.delete_contact import DeleteContact, DeleteContactCommand
from crm.domain.use_cases.get_contact import GetContact
from crm.domain.use_cases.list_contacts import ListContacts
from crm.domain.use_cases.manage_api_keys import RevokeApiKey, RevokeApiKeyCommand
from crm.domain.use_cases.update_contact import UpdateContact, UpdateContactCommand


class World:
    """The use cases wired on memory adapters, as bootstrap would wire them."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        self.secrets = ApiKeySecrets(b"unit-test-key")
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        self.create = CreateContact(uow, self.clock, ids, phones)
        self.update = UpdateContact(uow, self.clock, ids, phones)
        self.delete = DeleteContact(uow, self.clock, ids)
        self.get = GetContact(
            InMemoryContactReader(self.store), InMemoryTombstoneReader(self.store)
        )
        self.list = ListContacts(InMemoryContactReader(self.store))
        self.create_workspace = CreateWorkspace(uow, self.clock, ids, self.secrets)
        self.revoke = RevokeApiKey(uow, self.clock, InMemoryCredentialInvalidation())
        self.identity = InMemoryIdentityVerifier(self.clock)
        self.authenticate = Authenticate(
            InMemoryApiKeyReader(self.store), self.secrets, self.identity, uow, self.clock, ids
        )

    def principal(self) -> Principal:
        return Principal(uuid4(), uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.ADMIN}))

    async def contact(self, who: Principal, **fields: Any) -> Any:
        return await self.create.execute(CreateContactCommand(who, fields))

    def topics(self) -> list[str]:
        return [e.topic for e in self.store.state.outbox]


@pytest.fixture
def world() -> World:
    return World()


async def test_create_stores_the_contact_and_records_the_event(world: World) -> None:
    who = world.principal()
    contact = await world.contact(who, first_name="Ada", emails=["ADA@x.io"])
    assert await world.get.execute(who, contact.id) == contact
    [event] = world.store.state.outbox
    assert (event.topic, event.aggregate_id, event.actor_id) == (
        "contact.created",
        contact.id,
        who.actor_id,
    )
    assert event.payload["emails"] == ["ada@x.io"]


async def test_an_email_is_unique_within_a_workspace_only(world: World) -> None:
    a, b = world.principal(), world.principal()
    await world.contact(a, emails=["ada@x.io"])
    with pytest.raises(EmailAlreadyInUse) as excinfo:
        await world.contact(a, emails=["new@x.io", "Ada@X.io"])
    assert excinfo.value.errors[0].field == "/emails/1"
    await world.contact(b, emails=["ada@x.io"])
    assert world.topics() == ["contact.created", "contact.created"]


async def test_another_workspace_sees_nothing(world: World) -> None:
    a, b = world.principal(), world.principal()
    contact = await world.contact(a, first_name="Ada")
    with pytest.raises(ContactNotFound):
        await world.get.execute(b, contact.id)
    with pytest.raises(ContactNotFound):
        await world.update.execute(UpdateContactCommand(b, contact.id, {"first_name": "Eve"}))
    with pytest.raises(ContactNotFound):
        await world.delete.execute(DeleteContactCommand(b, contact.id))
    assert (await world.list.execute(b, PageRequest())).items == []


async def test_update_records_old_and_new_values_of_changed_fields(world: World) -> None:
    who = world.principal()
    contact = await world.contact(who, first_name="Ada", job_title="Analyst")
    world.clock.advance(minutes=1)
    changes = {"job_title": "Countess", "first_name": "Ada"}
    updated = await world.update.execute(UpdateContactCommand(who, contact.id, changes, if_match=1))
    assert (updated.version, updated.job_title, updated.updated_at) == (
        2,
        "Countess",
        world.clock.now(),
    )
    event = world.store.state.outbox[-1]
    assert event.topic == "contact.updated"
    assert event.payload == {"changes": {"job_title": {"old": "Analyst", "new": "Countess"}}}


async def test_a_no_op_update_changes_nothing(world: World) -> None:
    who = world.principal()
    contact = await world.contact(who, first_name="Ada")
    same = await world.update.execute(UpdateContactCommand(who, contact.id, {"first_name": "Ada"}))
    assert same.version == 1
    assert world.topics() == ["contact.created"]


async def test_a_stale_if_match_is_refused_and_nothing_changes(world: World) -> None:
    who = world.principal()
    contact = await world.contact(who, first_name="Ada")
    await world.update.execute(UpdateContactCommand(who, contact.id, {"last_name": "L"}))
    with pytest.raises(VersionConflict):
        await world.update.execute(
            UpdateContactCommand(who, contact.id, {"last_name": "X"}, if_match=1)
        )
    with pytest.raises(VersionConflict):
        await world.delete.execute(DeleteContactCommand(who, contact.id, if_match=1))
    assert (await world.get.execute(who, contact.id)).last_name == "L"


async def test_the_owner_must_be_a_member(world: World) -> None:
    who = world.principal()
    with pytest.raises(InvalidInput) as excinfo:
        await world.contact(who, first_name="Ada", owner_id=uuid4())
    assert excinfo.value.errors[0].code == "owner_not_member"
    user = User(uuid4(), "rep@x.io", "Rep", world.clock.now())
    async with InMemoryUnitOfWork(world.store) as uow:
        await uow.users.add(user)
        await uow.members.add(Member(who.workspace_id, user.id, Role.MEMBER, world.clock.now()))
        await uow.commit()
    assert (await world.contact(who, first_name="Ada", owner_id=user.id)).owner_id == user.id
    assert world.topics() == ["contact.created"]


async def test_delete_frees_the_emails_and_records_the_event(world: World) -> None:
    who = world.principal()
    contact = await world.contact(who, emails=["ada@x.io"])
    await world.delete.execute(DeleteContactCommand(who, contact.id, if_match=1))
    with pytest.raises(ContactNotFound):
        await world.get.execute(who, contact.id)
    await world.contact(who, emails=["ada@x.io"])
    assert world.topics() == ["contact.created", "contact.deleted", "contact.created"]


async def test_pages_walk_every_contact_once_newest_first(world: World) -> None:
    who = world.principal()
    made = []
    for i in range(7):
        world.clock.advance(seconds=1)
        made.append(await world.contact(who, first_name=f"C{i}"))
    seen, after = [], None
    while True:
        page = await world.list.execute(who, PageRequest(limit=3, after=after))
        seen += [c.id for c in page.items]
        if page.next is None:
            break
        after = page.next
    assert seen == [c.id for c in reversed(made)]


async def test_api_keys_authenticate_until_revoked(world: World) -> None:
    created = await world.create_workspace.execute(CreateWorkspaceCommand("  Acme   Corp "))
    assert created.workspace.name == "Acme Corp"
    assert created.secret is not None
    assert created.api_key is not None
    assert created.secret.startswith("crm_sk_")
    assert created.api_key.secret_hash != created.secret
    principal = (await world.authenticate.execute(created.secret)).principal
    assert principal is not None
    assert principal.workspace_id == created.workspace.id
    await world.revoke.execute(RevokeApiKeyCommand(created.workspace.id, created.api_key.id))
    with pytest.raises(ApiKeyRevoked):
        await world.authenticate.execute(created.secret)
    with pytest.raises(InvalidCredentials):
        await world.authenticate.execute("crm_sk_" + "x" * 40)
