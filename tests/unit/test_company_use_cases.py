"""Company and contact-company link use cases on the memory adapters."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.companies import InMemoryCompanyReader
from crm.adapters.memory.merges import InMemoryTombstoneReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    CompanyDomainTaken,
    CompanyNotFound,
    ContactNotFound,
    InvalidInput,
    VersionConflict,
)
from crm.domain.model.company import Company
from crm.domain.model.permissions import (
    ActorKind,
    MissingScope,
    Principal,
    Role,
    RoleForbids,
    Scope,
)
from crm.domain.model.workspace import Member, User
from crm.domain.pagination import PageRequest, SortOrder
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import company_links as links
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.custom_fields import CreateCustomField
from crm.domain.use_cases.delete_contact import DeleteContact, DeleteContactCommand

OLDEST = PageRequest(50, None, SortOrder.OLDEST_FIRST)


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        reader = InMemoryCompanyReader(self.store)
        self.create = co.CreateCompany(uow, self.clock, ids, phones)
        self.update = co.UpdateCompany(uow, self.clock, ids, phones)
        self.delete = co.DeleteCompany(uow, self.clock, ids)
        self.get = co.GetCompany(reader, InMemoryTombstoneReader(self.store))
        self.list = co.ListCompanies(reader)
        self.link_uc = links.LinkContactToCompany(uow, self.clock, ids)
        self.unlink_uc = links.UnlinkContactFromCompany(uow, self.clock, ids)
        self.companies_of = links.ListContactCompanies(reader)
        self.contacts_of = links.ListCompanyContacts(reader)
        self.create_contact = CreateContact(uow, self.clock, ids, phones)
        self.delete_contact = DeleteContact(uow, self.clock, ids)
        self.create_field = CreateCustomField(uow, self.clock, ids)

    def key(self, *scopes: Scope, workspace: UUID | None = None) -> Principal:
        return Principal(
            workspace or uuid4(),
            uuid4(),
            ActorKind.API_KEY,
            scopes=frozenset(scopes or {Scope.ADMIN}),
        )

    async def company(self, who: Principal, **fields: Any) -> Company:
        fields.setdefault("name", "Acme")
        return await self.create.execute(co.CreateCompanyCommand(who, fields))

    async def contact(self, who: Principal, name: str = "Ada") -> UUID:
        made = await self.create_contact.execute(CreateContactCommand(who, {"first_name": name}))
        return made.id

    async def link(
        self, who: Principal, contact: UUID, company: UUID, primary: bool | None = None
    ) -> Any:
        return await self.link_uc.execute(links.LinkCompanyCommand(who, contact, company, primary))

    async def unlink(self, who: Principal, contact: UUID, company: UUID) -> None:
        await self.unlink_uc.execute(links.UnlinkCompanyCommand(who, contact, company))

    async def primaries(self, who: Principal, contact: UUID) -> dict[str, bool]:
        page = await self.companies_of.execute(who, contact, OLDEST)
        return {x.item.name: x.is_primary for x in page.items}

    def topics(self) -> list[str]:
        return [e.topic for e in self.store.state.outbox]


@pytest.fixture
def world() -> World:
    return World()


async def test_create_normalizes_stores_and_records_the_event(world: World) -> None:
    who = world.key()
    made = await world.company(
        who,
        name=" Acme  Corp ",
        domain="https://WWW.Acme.com/about",
        country="gb",
        size_band="11-50",
        address={"city": "London"},
        tags=["Enterprise"],
    )
    assert (made.name, made.domain, made.country, made.tags) == (
        "Acme Corp",
        "acme.com",
        "GB",
        ("enterprise",),
    )
    assert await world.get.execute(who, made.id) == made
    [event] = world.store.state.outbox
    assert (event.topic, event.aggregate_id, event.actor_id) == (
        "company.created",
        made.id,
        who.actor_id,
    )
    assert event.payload["address"] == {
        "line1": None,
        "line2": None,
        "city": "London",
        "region": None,
        "postal_code": None,
    }
    assert event.payload["size_band"] == "11-50"
    # Tags join the workspace's catalogue.
    assert {t.name for t in world.store.state.tags.values()} == {"enterprise"}


async def test_a_domain_names_one_company_per_workspace(world: World) -> None:
    a, b = world.key(), world.key()
    first = await world.company(a, domain="acme.com")
    with pytest.raises(CompanyDomainTaken) as excinfo:
        await world.company(a, name="Acme again", domain="http://www.ACME.com/")
    assert str(first.id) in excinfo.value.detail
    assert (excinfo.value.errors[0].field, excinfo.value.errors[0].code) == (
        "/domain",
        "domain_taken",
    )
    # Another workspace has its own namespace; companies without a domain never collide.
    await world.company(b, domain="acme.com")
    await world.company(a, name="No domain 1")
    await world.company(a, name="No domain 2")
    assert len((await world.list.execute(a, OLDEST)).items) == 3


async def test_update_moves_the_domain_and_refuses_a_taken_one(world: World) -> None:
    who = world.key()
    acme = await world.company(who, domain="acme.com")
    other = await world.company(who, name="Other", domain="other.com")
    with pytest.raises(CompanyDomainTaken) as excinfo:
        await world.update.execute(co.UpdateCompanyCommand(who, other.id, {"domain": "acme.com"}))
    assert str(acme.id) in excinfo.value.detail
    world.clock.advance(minutes=1)
    moved = await world.update.execute(
        co.UpdateCompanyCommand(who, acme.id, {"domain": "acme.io", "industry": "Tools"}, 1)
    )
    assert (moved.domain, moved.version, moved.updated_at) == ("acme.io", 2, world.clock.now())
    assert world.store.state.outbox[-1].payload == {
        "changes": {
            "domain": {"old": "acme.com", "new": "acme.io"},
            "industry": {"old": None, "new": "Tools"},
        }
    }
    # The old domain is free again.
    await world.update.execute(co.UpdateCompanyCommand(who, other.id, {"domain": "acme.com"}))


async def test_update_is_partial_null_clears_and_the_name_stays(world: World) -> None:
    who = world.key()
    made = await world.company(who, country="DE", website="https://acme.de")
    updated = await world.update.execute(
        co.UpdateCompanyCommand(who, made.id, {"country": None, "address": {"line1": "1 Main"}})
    )
    assert (updated.country, updated.website, updated.address is not None) == (
        None,
        "https://acme.de",
        True,
    )
    with pytest.raises(InvalidInput) as excinfo:
        await world.update.execute(co.UpdateCompanyCommand(who, made.id, {"name": None}))
    assert excinfo.value.errors[0].field == "/name"
    unchanged = await world.update.execute(co.UpdateCompanyCommand(who, made.id, {"name": "Acme"}))
    assert unchanged.version == 2
    with pytest.raises(VersionConflict):
        await world.update.execute(co.UpdateCompanyCommand(who, made.id, {"name": "X"}, 1))


async def test_custom_fields_follow_the_workspace_definitions(world: World) -> None:
    who = world.key()
    with pytest.raises(InvalidInput) as excinfo:
        await world.company(who, custom_fields={"arr": 10})
    assert (excinfo.value.errors[0].field, excinfo.value.errors[0].code) == (
        "/custom_fields/arr",
        "unknown_field",
    )
    await world.create_field.execute(
        who, {"object_type": "company", "key": "arr", "label": "ARR", "field_type": "number"}
    )
    made = await world.company(who, custom_fields={"arr": 10})
    assert made.custom_fields == {"arr": 10}
    with pytest.raises(InvalidInput):
        await world.update.execute(
            co.UpdateCompanyCommand(who, made.id, {"custom_fields": {"arr": "lots"}})
        )
    cleared = await world.update.execute(
        co.UpdateCompanyCommand(who, made.id, {"custom_fields": {"arr": None}})
    )
    assert cleared.custom_fields == {}


async def test_the_owner_must_be_a_member(world: World) -> None:
    who = world.key()
    with pytest.raises(InvalidInput) as excinfo:
        await world.company(who, owner_id=uuid4())
    assert (excinfo.value.errors[0].field, excinfo.value.errors[0].code) == (
        "/owner_id",
        "owner_not_member",
    )
    user = User(uuid4(), "rep@x.io", "Rep", world.clock.now())
    async with InMemoryUnitOfWork(world.store) as uow:
        await uow.users.add(user)
        await uow.members.add(Member(who.workspace_id, user.id, Role.MEMBER, world.clock.now()))
        await uow.commit()
    assert (await world.company(who, owner_id=user.id)).owner_id == user.id


async def test_members_delete_only_companies_they_own(world: World) -> None:
    ws = uuid4()
    member = Principal(ws, uuid4(), ActorKind.USER, role=Role.MEMBER)
    admin = Principal(ws, uuid4(), ActorKind.USER, role=Role.ADMIN)
    made = await world.company(admin)
    with pytest.raises(RoleForbids):
        await world.delete.execute(co.DeleteCompanyCommand(member, made.id))
    await world.delete.execute(co.DeleteCompanyCommand(admin, made.id))
    assert world.topics() == ["company.created", "company.deleted"]


async def test_scopes_are_checked_before_anything_else(world: World) -> None:
    ws = uuid4()
    reader = world.key(Scope.COMPANIES_READ, workspace=ws)
    contacts_only = world.key(Scope.CONTACTS_WRITE, Scope.CONTACTS_READ, workspace=ws)
    with pytest.raises(MissingScope):
        await world.company(reader)
    with pytest.raises(MissingScope):
        await world.company(contacts_only)
    with pytest.raises(MissingScope):
        await world.list.execute(contacts_only, OLDEST)
    # Listing a contact's companies shows companies and contacts: it needs both scopes.
    with pytest.raises(MissingScope):
        await world.companies_of.execute(contacts_only, uuid4(), OLDEST)
    with pytest.raises(MissingScope):
        await world.contacts_of.execute(reader, uuid4(), OLDEST)
    # Links change the contact: contacts:write is what they need.
    admin = world.key(workspace=ws)
    company, contact = await world.company(admin), await world.contact(admin)
    with pytest.raises(MissingScope):
        await world.link(reader, contact, company.id)
    plan = await world.link(contacts_only, contact, company.id)
    assert plan.created


async def test_another_workspace_sees_nothing(world: World) -> None:
    a, b = world.key(), world.key()
    company, contact = await world.company(a, domain="acme.com"), await world.contact(a)
    b_company, b_contact = await world.company(b), await world.contact(b)
    with pytest.raises(CompanyNotFound):
        await world.get.execute(b, company.id)
    with pytest.raises(CompanyNotFound):
        await world.update.execute(co.UpdateCompanyCommand(b, company.id, {"name": "Eve"}))
    with pytest.raises(CompanyNotFound):
        await world.delete.execute(co.DeleteCompanyCommand(b, company.id))
    with pytest.raises(CompanyNotFound):
        await world.contacts_of.execute(b, company.id, OLDEST)
    with pytest.raises(ContactNotFound):
        await world.companies_of.execute(b, contact, OLDEST)
    # Linking across workspaces, either way round, finds nothing.
    with pytest.raises(ContactNotFound):
        await world.link(b, contact, b_company.id)
    with pytest.raises(CompanyNotFound):
        await world.link(b, b_contact, company.id)
    with pytest.raises(ContactNotFound):
        await world.link(b, contact, company.id)
    with pytest.raises(CompanyNotFound):
        await world.unlink(b, b_contact, company.id)
    assert (await world.list.execute(b, OLDEST, domain="acme.com")).items == []
    assert (await world.list.execute(b, OLDEST, tags=["vip"])).items == []
    assert world.store.state.company_links == {}


async def test_link_rules_one_primary_per_contact(world: World) -> None:
    who = world.key()
    ada = await world.contact(who)
    names = ("Acme", "Globex", "Initech")
    acme, globex, initech = [await world.company(who, name=n) for n in names]
    await world.link(who, ada, acme.id)
    await world.link(who, ada, globex.id)
    assert await world.primaries(who, ada) == {"Acme": True, "Globex": False}
    await world.link(who, ada, initech.id, primary=True)
    assert await world.primaries(who, ada) == {"Acme": False, "Globex": False, "Initech": True}
    again = await world.link(who, ada, initech.id)
    assert (again.created, again.writes) == (False, ())
    # Unlinking the primary leaves none; the next new link becomes primary.
    await world.unlink(who, ada, initech.id)
    assert await world.primaries(who, ada) == {"Acme": False, "Globex": False}
    await world.unlink(who, ada, initech.id)  # nothing to do, no error
    await world.link(who, ada, initech.id)
    assert await world.primaries(who, ada) == {"Acme": False, "Globex": False, "Initech": True}
    assert world.topics()[4:] == [
        "contact.company_linked",
        "contact.primary_company_changed",
        "contact.company_linked",
        "contact.company_linked",
        "contact.primary_company_changed",
        "contact.company_unlinked",
        "contact.primary_company_changed",
        "contact.company_linked",
        "contact.primary_company_changed",
    ]
    changes = [e.payload for e in world.store.state.outbox if e.topic.endswith("changed")]
    assert changes[1] == {"old_company_id": str(acme.id), "new_company_id": str(initech.id)}
    assert changes[2] == {"old_company_id": str(initech.id), "new_company_id": None}


async def test_a_company_lists_its_contacts_and_a_contact_its_companies(world: World) -> None:
    who = world.key()
    acme = await world.company(who)
    people = []
    for n in range(5):
        people.append(await world.contact(who, f"P{n}"))
        world.clock.advance(seconds=1)
        await world.link(who, people[-1], acme.id)
    seen, after = [], None
    while True:
        page = await world.contacts_of.execute(
            who, acme.id, PageRequest(2, after, SortOrder.OLDEST_FIRST)
        )
        seen += [(x.item.id, x.is_primary) for x in page.items]
        if page.next is None:
            break
        after = page.next
    assert seen == [(p, True) for p in people]


async def test_deleting_a_company_unlinks_and_keeps_the_contacts(world: World) -> None:
    who = world.key()
    acme, globex = (
        await world.company(who, name="Acme", domain="acme.com"),
        await world.company(who, name="Globex"),
    )
    ada = await world.contact(who)
    await world.link(who, ada, acme.id)
    await world.link(who, ada, globex.id)
    await world.delete.execute(co.DeleteCompanyCommand(who, acme.id))
    assert await world.primaries(who, ada) == {"Globex": False}
    assert ada in world.store.state.contacts
    # Its domain is free again.
    await world.company(who, name="Acme 2", domain="acme.com")


async def test_deleting_a_contact_removes_its_links(world: World) -> None:
    who = world.key()
    acme, ada = await world.company(who), await world.contact(who)
    await world.link(who, ada, acme.id)
    await world.delete_contact.execute(DeleteContactCommand(who, ada))
    assert (await world.contacts_of.execute(who, acme.id, OLDEST)).items == []
    assert world.store.state.company_links == {}


async def test_lists_filter_by_domain_and_tag(world: World) -> None:
    who = world.key()
    acme = await world.company(who, domain="acme.com", tags=["vip"])
    await world.company(who, name="Globex", domain="globex.com")
    found = await world.list.execute(who, OLDEST, domain="https://www.ACME.com/x")
    assert [c.id for c in found.items] == [acme.id]
    assert [c.id for c in (await world.list.execute(who, OLDEST, tags=["VIP"])).items] == [acme.id]
    with pytest.raises(InvalidInput) as excinfo:
        await world.list.execute(who, OLDEST, domain="not a domain")
    assert (excinfo.value.errors[0].field, excinfo.value.errors[0].code) == (
        "domain",
        "invalid_domain",
    )
    assert (await world.list.execute(who, OLDEST, domain="initech.com")).items == []
