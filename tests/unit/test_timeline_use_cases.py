"""Timeline and audit use cases on the memory adapters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.memory.timeline import InMemoryEventReader
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import ContactNotFound, DealNotFound, InvalidQuery
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import (
    ActorKind,
    MissingScope,
    Principal,
    Role,
    RoleForbids,
    Scope,
)
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import company_links as links
from crm.domain.use_cases import custom_fields as cf
from crm.domain.use_cases import notes as nt
from crm.domain.use_cases import tasks as tk
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.timeline import AuditQuery, GetRecordTimeline, ListAuditEvents
from crm.domain.use_cases.update_contact import UpdateContact, UpdateContactCommand

C = RecordType.CONTACT


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        reader = InMemoryEventReader(self.store)
        self.timeline = GetRecordTimeline(reader)
        self.audit = ListAuditEvents(reader)
        self.create_contact = CreateContact(uow, self.clock, ids, phones)
        self.update_contact = UpdateContact(uow, self.clock, ids, phones)
        self.create_company = co.CreateCompany(uow, self.clock, ids, phones)
        self.link = links.LinkContactToCompany(uow, self.clock, ids)
        self.add_note = nt.AddNote(uow, self.clock, ids)
        self.ws = uuid4()
        self.admin = self.person(Role.ADMIN)

    def person(self, role: Role) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.USER, role=role)

    def key(self, *scopes: Scope) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))

    def tick(self) -> None:
        self.clock.advance(seconds=1)

    async def story(self) -> tuple[UUID, UUID]:
        """A contact created, renamed, linked to a company and noted, a second apart."""
        made = await self.create_contact.execute(
            CreateContactCommand(self.admin, {"first_name": "Ada"})
        )
        self.tick()
        await self.update_contact.execute(
            UpdateContactCommand(self.admin, made.id, {"job_title": "CTO"})
        )
        self.tick()
        company = await self.create_company.execute(
            co.CreateCompanyCommand(self.admin, {"name": "Acme"})
        )
        self.tick()
        await self.link.execute(links.LinkCompanyCommand(self.admin, made.id, company.id))
        self.tick()
        await self.add_note.execute(nt.AddNoteCommand(self.admin, C, made.id, "Called"))
        return made.id, company.id


@pytest.fixture
def world() -> World:
    return World()


async def test_a_timeline_is_newest_first_with_old_and_new_values(world: World) -> None:
    contact, company = await world.story()
    page = await world.timeline.execute(world.admin, C, contact, 50)
    assert [e.topic for e in page.items] == [
        "note.added",
        "contact.primary_company_changed",
        "contact.company_linked",
        "contact.updated",
        "contact.created",
    ]
    assert page.next is None
    updated = page.items[3]
    assert updated.changes == {"job_title": {"old": None, "new": "CTO"}}
    assert updated.actor is not None
    assert (updated.actor.id, updated.actor.kind) == (world.admin.actor_id, ActorKind.USER)
    company_page = await world.timeline.execute(world.admin, RecordType.COMPANY, company, 50)
    assert [e.topic for e in company_page.items] == [
        "contact.primary_company_changed",
        "contact.company_linked",
        "company.created",
    ]


async def test_timeline_pages_end_without_gaps(world: World) -> None:
    contact, _ = await world.story()
    seen, after = [], None
    while True:
        page = await world.timeline.execute(world.admin, C, contact, 2, after)
        seen += [e.id for e in page.items]
        if page.next is None:
            break
        after = page.next
    whole = await world.timeline.execute(world.admin, C, contact, 50)
    assert seen == [e.id for e in whole.items]


async def test_an_unknown_record_or_another_workspaces_is_not_found(world: World) -> None:
    contact, _ = await world.story()
    with pytest.raises(ContactNotFound):
        await world.timeline.execute(world.admin, C, uuid4(), 50)
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(ContactNotFound):
        await world.timeline.execute(stranger, C, contact, 50)
    with pytest.raises(DealNotFound):
        await world.timeline.execute(world.admin, RecordType.DEAL, contact, 50)


async def test_a_timeline_needs_the_record_types_read_scope(world: World) -> None:
    contact, _ = await world.story()
    with pytest.raises(MissingScope):
        await world.timeline.execute(world.key(Scope.DEALS_READ), C, contact, 50)
    page = await world.timeline.execute(world.key(Scope.CONTACTS_READ), C, contact, 50)
    assert page.items


async def test_the_audit_log_is_for_owners_admins_and_admin_keys(world: World) -> None:
    await world.story()
    with pytest.raises(RoleForbids):
        await world.audit.execute(AuditQuery(world.person(Role.MEMBER), 50))
    with pytest.raises(MissingScope, match="`admin`"):
        await world.audit.execute(AuditQuery(world.key(Scope.CONTACTS_READ), 50))
    for who in (world.person(Role.OWNER), world.admin, world.key(Scope.ADMIN)):
        assert len((await world.audit.execute(AuditQuery(who, 50))).items) == 6


async def test_audit_filters(world: World) -> None:
    contact, company = await world.story()
    start = ManualClock().now()

    async def topics(**kw: Any) -> list[str]:
        page = await world.audit.execute(AuditQuery(world.admin, 50, **kw))
        return [e.topic for e in page.items]

    assert await topics(topic="contact.") == [
        "contact.primary_company_changed",
        "contact.company_linked",
        "contact.updated",
        "contact.created",
    ]
    assert await topics(topic="contact") == []
    assert await topics(topic="note.added") == ["note.added"]
    assert await topics(record_type="company", record_id=company) == [
        "contact.primary_company_changed",
        "contact.company_linked",
        "company.created",
    ]
    assert await topics(actor_id=uuid4()) == []
    assert len(await topics(actor_id=world.admin.actor_id)) == 6
    second = start + timedelta(seconds=1)
    assert await topics(since=second, until=second + timedelta(seconds=2)) == [
        "company.created",
        "contact.updated",
    ]
    with pytest.raises(InvalidQuery):
        await topics(record_id=contact)


async def test_audit_times_need_an_offset(world: World) -> None:
    with pytest.raises(InvalidQuery) as refused:
        await world.audit.execute(AuditQuery(world.admin, 50, since=datetime(2026, 1, 1)))  # noqa: DTZ001
    assert refused.value.errors[0].field == "since"


async def test_every_update_records_old_and_new_values() -> None:
    world = World()
    ids = Uuid7Generator()
    uow = lambda: InMemoryUnitOfWork(world.store)  # noqa: E731
    contact, _ = await world.story()
    note = next(e for e in world.store.state.outbox if e.topic == "note.added")
    await nt.UpdateNote(uow, world.clock, ids).execute(
        nt.UpdateNoteCommand(world.admin, note.aggregate_id, {"text": "Called again"})
    )
    task = await tk.CreateTask(uow, world.clock, ids).execute(
        tk.CreateTaskCommand(
            world.admin, {"title": "Call", "record_type": "contact", "record_id": contact}
        )
    )
    await tk.UpdateTask(uow, world.clock, ids).execute(
        tk.UpdateTaskCommand(world.admin, task.id, {"title": "Call back", "priority": "high"})
    )
    await tk.CompleteTask(uow, world.clock, ids).execute(tk.TaskCommand(world.admin, task.id))
    field = await cf.CreateCustomField(uow, world.clock, ids).execute(
        world.admin,
        {"object_type": "contact", "key": "tier", "label": "Tier", "field_type": "text"},
    )
    await cf.UpdateCustomField(uow, world.clock, ids).execute(
        cf.UpdateCustomFieldCommand(world.admin, field.id, {"label": "Level"})
    )
    tag = await cf.CreateTag(uow, world.clock, ids).execute(world.admin, {"name": "vip"})
    await cf.UpdateTag(uow, world.clock, ids).execute(
        cf.UpdateTagCommand(world.admin, tag.id, {"name": "gold"})
    )
    await cf.DeleteTag(uow, world.clock, ids).execute(world.admin, tag.id, None)

    changes = {e.topic: e.payload.get("changes") for e in world.store.state.outbox}
    assert changes["note.updated"] == {"text": {"old": "Called", "new": "Called again"}}
    assert changes["task.updated"] == {
        "title": {"old": "Call", "new": "Call back"},
        "priority": {"old": "normal", "new": "high"},
    }
    assert changes["custom_field.updated"] == {"label": {"old": "Tier", "new": "Level"}}
    assert changes["tag.updated"] == {"name": {"old": "vip", "new": "gold"}}
    page = await world.timeline.execute(world.admin, C, contact, 3)
    assert [e.topic for e in page.items] == ["task.completed", "task.updated", "task.created"]
    audit = await world.audit.execute(AuditQuery(world.admin, 50, topic="tag."))
    assert [e.topic for e in audit.items] == ["tag.deleted", "tag.updated", "tag.created"]
