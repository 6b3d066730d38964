"""Merging contacts and companies on the memory adapters: moves, tombstones, chains, errors,
permissions and the event."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.companies import InMemoryCompanyReader
from crm.adapters.memory.deals import InMemoryDealReader, InMemoryPipelineReader
from crm.adapters.memory.merges import InMemoryTombstoneReader
from crm.adapters.memory.readers import InMemoryContactReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    CompanyMerged,
    ContactMerged,
    ContactNotFound,
    InvalidInput,
    MergeIntoSelf,
    VersionConflict,
)
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import LinkedObject
from crm.domain.model.events import CompanyMerged as CompanyMergedEvent
from crm.domain.model.events import ContactMerged as ContactMergedEvent
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import (
    ActorKind,
    MissingScope,
    Principal,
    Role,
    RoleForbids,
    Scope,
)
from crm.domain.model.workspace import ApiKeySecrets, Member
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import company_links as links
from crm.domain.use_cases import deals as d
from crm.domain.use_cases import notes as nt
from crm.domain.use_cases import tasks as tk
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.deal_links import LinkCommand
from crm.domain.use_cases.get_contact import GetContact
from crm.domain.use_cases.merge_records import MergeCommand, MergeCompanies, MergeContacts
from crm.domain.use_cases.sales import SalesUseCases
from crm.domain.use_cases.update_contact import UpdateContact, UpdateContactCommand


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        tombstones = InMemoryTombstoneReader(self.store)
        self.merge_contacts = MergeContacts(uow, self.clock, ids)
        self.merge_companies = MergeCompanies(uow, self.clock, ids)
        self.create_workspace = CreateWorkspace(uow, self.clock, ids, ApiKeySecrets(b"k"))
        self.create_contact = CreateContact(uow, self.clock, ids, phones)
        self.update_contact = UpdateContact(uow, self.clock, ids, phones)
        self.get_contact = GetContact(InMemoryContactReader(self.store), tombstones)
        self.create_company = co.CreateCompany(uow, self.clock, ids, phones)
        self.get_company = co.GetCompany(InMemoryCompanyReader(self.store), tombstones)
        self.delete_company = co.DeleteCompany(uow, self.clock, ids)
        self.link = links.LinkContactToCompany(uow, self.clock, ids)
        self.add_note = nt.AddNote(uow, self.clock, ids)
        self.create_task = tk.CreateTask(uow, self.clock, ids)
        self.sales = SalesUseCases.build(
            uow,
            self.clock,
            ids,
            InMemoryPipelineReader(self.store),
            InMemoryDealReader(self.store),
            phones,
        )

    async def workspace(self) -> Principal:
        made = await self.create_workspace.execute(CreateWorkspaceCommand("Acme"))
        return Principal(made.workspace.id, uuid4(), ActorKind.USER, role=Role.ADMIN)

    async def member(self, admin: Principal, role: Role = Role.MEMBER) -> Principal:
        who = Principal(admin.workspace_id, uuid4(), ActorKind.USER, role=role)
        async with InMemoryUnitOfWork(self.store) as uow:
            await uow.members.add(Member(who.workspace_id, who.actor_id, role, self.clock.now()))
            await uow.commit()
        return who

    async def contact(self, who: Principal, **fields: Any) -> Contact:
        fields.setdefault("first_name", "Ada")
        return await self.create_contact.execute(CreateContactCommand(who, fields))

    async def company(self, who: Principal, **fields: Any) -> Company:
        fields.setdefault("name", "Acme")
        return await self.create_company.execute(co.CreateCompanyCommand(who, fields))

    async def deal_linked(self, who: Principal, kind: LinkedObject, other: UUID) -> UUID:
        deal = await self.sales.create_deal.execute(d.CreateDealCommand(who, {"name": "Deal"}))
        await self.sales.link_deal.execute(LinkCommand(who, deal.id, kind, other))
        return deal.id

    async def note(self, who: Principal, kind: RecordType, record: UUID) -> UUID:
        cmd = nt.AddNoteCommand(who, kind, record, "Called")
        return (await self.add_note.execute(cmd)).id

    async def task(self, who: Principal, kind: RecordType, record: UUID) -> UUID:
        raw = {"title": "Call back", "record_type": kind.value, "record_id": record}
        return (await self.create_task.execute(tk.CreateTaskCommand(who, raw))).id

    def company_links(self, contact_id: UUID) -> dict[UUID, bool]:
        return {
            k[2]: link.is_primary
            for k, link in self.store.state.company_links.items()
            if k[1] == contact_id
        }

    def deal_links(self, kind: LinkedObject, other: UUID) -> set[UUID]:
        return {k[2] for k in self.store.state.deal_links if (k[0], k[3]) == (kind.value, other)}

    def events(self, kind: type) -> list[Any]:
        return [e for e in self.store.state.outbox if isinstance(e, kind)]


@pytest.fixture
def world() -> World:
    return World()


async def test_a_contact_merge_moves_everything_and_leaves_a_tombstone(world: World) -> None:
    who = await world.workspace()
    survivor = await world.contact(who, emails=["ada@example.com"], tags=["vip"])
    source = await world.contact(
        who, first_name="Augusta", last_name="King", emails=["augusta@example.com"], tags=["emea"]
    )
    shared, only_source, primary_of_source = [await world.company(who) for _ in range(3)]
    await world.link.execute(links.LinkCompanyCommand(who, survivor.id, shared.id))
    await world.link.execute(links.LinkCompanyCommand(who, source.id, primary_of_source.id))
    await world.link.execute(links.LinkCompanyCommand(who, source.id, shared.id))
    await world.link.execute(links.LinkCompanyCommand(who, source.id, only_source.id))
    both_deal = await world.deal_linked(who, LinkedObject.CONTACT, survivor.id)
    await world.sales.link_deal.execute(
        LinkCommand(who, both_deal, LinkedObject.CONTACT, source.id)
    )
    source_deal = await world.deal_linked(who, LinkedObject.CONTACT, source.id)
    note = await world.note(who, RecordType.CONTACT, source.id)
    task = await world.task(who, RecordType.CONTACT, source.id)

    merged = await world.merge_contacts.execute(MergeCommand(who, survivor.id, source.id))

    assert (merged.first_name, merged.last_name) == ("Ada", "King")
    assert merged.emails == ("ada@example.com", "augusta@example.com")
    assert (merged.tags, merged.version) == (("vip", "emea"), 2)
    # The survivor kept its primary company; the source's links joined as secondary ones.
    assert world.company_links(survivor.id) == {
        shared.id: True,
        primary_of_source.id: False,
        only_source.id: False,
    }
    assert world.company_links(source.id) == {}
    assert world.deal_links(LinkedObject.CONTACT, survivor.id) == {both_deal, source_deal}
    assert world.deal_links(LinkedObject.CONTACT, source.id) == set()
    moved_note = world.store.state.notes[note]
    assert (moved_note.record_id, moved_note.version) == (survivor.id, 2)
    moved_task = world.store.state.tasks[task]
    assert (moved_task.record_id, moved_task.version) == (survivor.id, 2)
    # The source's email is the survivor's now, in the workspace's index too.
    assert (
        world.store.state.contact_emails[(who.workspace_id, "augusta@example.com")] == survivor.id
    )
    with pytest.raises(ContactMerged) as gone:
        await world.get_contact.execute(who, source.id)
    assert (gone.value.merged_into, gone.value.code) == (survivor.id, "contact_merged")
    assert await world.get_contact.execute(who, survivor.id) == merged
    [event] = world.events(ContactMergedEvent)
    assert event.aggregate_id == survivor.id
    assert event.payload["source_id"] == str(source.id)
    assert event.payload["source"]["last_name"] == "King"
    assert event.payload["changes"]["last_name"] == {"old": None, "new": "King"}
    assert event.payload["moved"] == {"company_links": 2, "deals": 1, "notes": 1, "tasks": 1}


async def test_the_survivor_takes_the_sources_primary_when_it_had_none(world: World) -> None:
    who = await world.workspace()
    survivor, source = await world.contact(who), await world.contact(who)
    acme = await world.company(who)
    await world.link.execute(links.LinkCompanyCommand(who, survivor.id, acme.id, primary=False))
    await world.link.execute(links.LinkCompanyCommand(who, source.id, acme.id))
    await world.merge_contacts.execute(MergeCommand(who, survivor.id, source.id))
    assert world.company_links(survivor.id) == {acme.id: True}


async def test_chains_collapse_and_every_merged_id_names_the_last_survivor(world: World) -> None:
    who = await world.workspace()
    a, b, c = [await world.contact(who, first_name=n) for n in "ABC"]
    await world.merge_contacts.execute(MergeCommand(who, b.id, a.id))
    await world.merge_contacts.execute(MergeCommand(who, c.id, b.id))
    for gone in (a, b):
        with pytest.raises(ContactMerged) as raised:
            await world.get_contact.execute(who, gone.id)
        assert raised.value.merged_into == c.id
        # Writes to a merged id say so too.
        cmd = UpdateContactCommand(who, gone.id, {"first_name": "Z"})
        with pytest.raises(ContactMerged):
            await world.update_contact.execute(cmd)
    graves = world.store.state.tombstones
    assert {k[2]: g.merged_into for k, g in graves.items()} == {a.id: c.id, b.id: c.id}


async def test_what_cannot_be_merged(world: World) -> None:
    who = await world.workspace()
    survivor, source = await world.contact(who), await world.contact(who)
    with pytest.raises(MergeIntoSelf) as raised:
        await world.merge_contacts.execute(MergeCommand(who, survivor.id, survivor.id))
    assert raised.value.errors[0].field == "/source_id"
    with pytest.raises(ContactNotFound) as missing:
        await world.merge_contacts.execute(MergeCommand(who, survivor.id, uuid4()))
    assert (missing.value.code, missing.value.errors[0].field) == (
        "contact_not_found",
        "/source_id",
    )
    assert "source contact" in missing.value.detail
    with pytest.raises(ContactNotFound) as missing:
        await world.merge_contacts.execute(MergeCommand(who, uuid4(), source.id))
    assert missing.value.errors == ()
    with pytest.raises(VersionConflict):
        await world.merge_contacts.execute(MergeCommand(who, survivor.id, source.id, if_match=7))
    await world.merge_contacts.execute(MergeCommand(who, survivor.id, source.id, if_match=1))
    with pytest.raises(ContactMerged) as again:
        await world.merge_contacts.execute(MergeCommand(who, survivor.id, source.id))
    assert (again.value.merged_into, again.value.errors[0].field) == (survivor.id, "/source_id")
    # Another workspace's contact is not found, and nothing of it moved.
    other = await world.workspace()
    theirs = await world.contact(other)
    with pytest.raises(ContactNotFound):
        await world.merge_contacts.execute(MergeCommand(who, survivor.id, theirs.id))
    assert await world.get_contact.execute(other, theirs.id) == theirs


async def test_a_failed_merge_leaves_nothing_half_done(world: World) -> None:
    who = await world.workspace()
    survivor = await world.contact(who, emails=[f"a{i}@example.com" for i in range(10)])
    source = await world.contact(who, emails=["more@example.com"])
    note = await world.note(who, RecordType.CONTACT, source.id)
    with pytest.raises(InvalidInput) as raised:
        await world.merge_contacts.execute(MergeCommand(who, survivor.id, source.id))
    assert [(e.field, e.code) for e in raised.value.errors] == [("/emails", "too_many")]
    assert await world.get_contact.execute(who, source.id) == source
    assert world.store.state.notes[note].record_id == source.id
    assert world.store.state.tombstones == {}


async def test_merging_needs_write_and_the_right_to_delete_the_source(world: World) -> None:
    admin = await world.workspace()
    member = await world.member(admin)
    mine = await world.contact(member, owner_id=member.actor_id)
    theirs = await world.contact(admin)
    with pytest.raises(RoleForbids):
        await world.merge_contacts.execute(MergeCommand(member, mine.id, theirs.id))
    # A member may merge away a record they own into any other.
    await world.merge_contacts.execute(MergeCommand(member, theirs.id, mine.id))
    reader = Principal(
        admin.workspace_id, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.CONTACTS_READ})
    )
    other = await world.contact(admin)
    with pytest.raises(MissingScope):
        await world.merge_contacts.execute(MergeCommand(reader, theirs.id, other.id))


async def test_a_company_merge_moves_contacts_deals_notes_tasks(world: World) -> None:
    who = await world.workspace()
    survivor = await world.company(who, name="Acme", tags=["b2b"])
    source = await world.company(who, name="ACME Ltd", domain="acme.com", industry="Tools")
    both, only_source = await world.contact(who), await world.contact(who)
    await world.link.execute(links.LinkCompanyCommand(who, both.id, survivor.id, primary=False))
    await world.link.execute(links.LinkCompanyCommand(who, both.id, source.id, primary=True))
    await world.link.execute(links.LinkCompanyCommand(who, only_source.id, source.id))
    deal = await world.deal_linked(who, LinkedObject.COMPANY, source.id)
    note = await world.note(who, RecordType.COMPANY, source.id)
    task = await world.task(who, RecordType.COMPANY, source.id)

    merged = await world.merge_companies.execute(MergeCommand(who, survivor.id, source.id))

    assert (merged.name, merged.domain, merged.industry) == ("Acme", "acme.com", "Tools")
    # `both` had the source as its primary company: the survivor is its primary now.
    assert world.company_links(both.id) == {survivor.id: True}
    assert world.company_links(only_source.id) == {survivor.id: True}
    assert world.deal_links(LinkedObject.COMPANY, survivor.id) == {deal}
    assert world.store.state.notes[note].record_id == survivor.id
    assert world.store.state.tasks[task].record_id == survivor.id
    assert world.store.state.company_domains[(who.workspace_id, "acme.com")] == survivor.id
    with pytest.raises(CompanyMerged) as gone:
        await world.get_company.execute(who, source.id)
    assert gone.value.merged_into == survivor.id
    with pytest.raises(CompanyMerged):
        await world.delete_company.execute(co.DeleteCompanyCommand(who, source.id))
    [event] = world.events(CompanyMergedEvent)
    assert event.payload["moved"] == {"contacts": 1, "deals": 1, "notes": 1, "tasks": 1}
    assert event.payload["changes"]["domain"] == {"old": None, "new": "acme.com"}
