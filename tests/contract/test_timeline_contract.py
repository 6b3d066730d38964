"""One contract for the event reader (timelines, the audit log), on memory and Postgres:
events written through the unit of work's outbox read back alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest_asyncio

from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.memory.timeline import InMemoryEventReader
from crm.adapters.postgres.event_readers import AsyncpgEventReader
from crm.domain.model import events as ev
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import RecordType
from crm.domain.model.timeline import AuditFilter, EventPage, EventPosition, MergedAway
from crm.ports.timeline import EventReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import IDS, T0, contact
from tests.support.stores import new_workspace, postgres

C = RecordType.CONTACT


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    events: EventReader


def event(
    kind: type[ev.DomainEvent],
    workspace: UUID,
    aggregate: UUID,
    n: int,
    actor: UUID | None = None,
    **payload: Any,
) -> ev.DomainEvent:
    return kind(
        id=IDS.new_id(),
        workspace_id=workspace,
        aggregate_id=aggregate,
        occurred_at=T0 + timedelta(seconds=n),
        actor_id=actor,
        payload=payload,
    )


class TimelineContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        return await new_workspace(subject.uow)

    async def new_contact(self, subject: Subject, workspace: UUID) -> UUID:
        c = contact(workspace, emails=(f"{uuid4().hex}@example.com",))
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.commit()
        return c.id

    async def record(self, subject: Subject, *events: ev.DomainEvent) -> None:
        async with subject.uow() as uow:
            await uow.outbox.add(list(events))
            await uow.commit()

    async def all_pages(self, read: Any, limit: int) -> list[UUID]:
        seen: list[UUID] = []
        after: EventPosition | None = None
        while True:
            page: EventPage = await read(limit, after)
            seen += [e.id for e in page.items]
            if page.next is None:
                return seen
            after = page.next

    async def test_a_timeline_pages_newest_first_to_the_end(
        self, subject: Subject, workspace: UUID
    ) -> None:
        person = await self.new_contact(subject, workspace)
        changes = {"job_title": {"old": None, "new": "CTO"}}
        written = [event(ev.ContactCreated, workspace, person, 0, first_name="Ada")]
        # Two events at the same instant are ordered by id.
        written += [
            event(ev.ContactUpdated, workspace, person, n // 2, changes=changes)
            for n in range(2, 9)
        ]
        note = event(
            ev.NoteAdded, workspace, uuid4(), 9, record_type="contact", record_id=str(person)
        )
        other = event(ev.ContactCreated, workspace, uuid4(), 10)
        await self.record(subject, *written, note, other)
        expected = [note.id, *[e.id for e in reversed(written)]]

        async def read(limit: int, after: EventPosition | None) -> EventPage:
            found = await subject.events.timeline(workspace, C, person, limit, after)
            assert isinstance(found, EventPage)
            return found

        for limit in (1, 2, 3, 50):
            assert await self.all_pages(read, limit) == expected
        first = (await read(50, None)).items
        assert first[0].topic == "note.added"
        assert first[0].aggregate_type == "note"
        assert first[0].data["record_id"] == str(person)
        assert first[1].changes == changes
        assert first[-1].payload == {"first_name": "Ada"}

    async def test_unknown_records_and_records_without_events(
        self, subject: Subject, workspace: UUID
    ) -> None:
        person = await self.new_contact(subject, workspace)
        assert await subject.events.timeline(workspace, C, uuid4(), 50, None) is None
        assert await subject.events.timeline(workspace, RecordType.DEAL, person, 50, None) is None
        other = await new_workspace(subject.uow, "Other")
        assert await subject.events.timeline(other, C, person, 50, None) is None
        assert await subject.events.timeline(workspace, C, person, 50, None) == EventPage([], None)

    async def test_a_survivor_shows_what_was_merged_into_it(
        self, subject: Subject, workspace: UUID
    ) -> None:
        survivor = await self.new_contact(subject, workspace)
        source = await self.new_contact(subject, workspace)
        before = event(ev.ContactCreated, workspace, source, 1)
        mine = event(ev.ContactCreated, workspace, survivor, 2)
        merged = event(ev.ContactMerged, workspace, survivor, 3, source_id=str(source))
        await self.record(subject, before, mine, merged)
        async with subject.uow() as uow:
            gone = await uow.contacts.get_for_update(workspace, source)
            assert gone is not None
            await uow.contacts.remove(gone)
            stone = Tombstone(workspace, C, source, survivor, None, T0 + timedelta(seconds=3))
            await uow.merges.bury(stone)
            await uow.commit()
        page = await subject.events.timeline(workspace, C, survivor, 50, None)
        assert isinstance(page, EventPage)
        assert [e.id for e in page.items] == [merged.id, mine.id, before.id]
        assert await subject.events.timeline(workspace, C, source, 50, None) == MergedAway(survivor)

    async def test_the_audit_log_filters_and_pages(self, subject: Subject, workspace: UUID) -> None:
        alice, bob = uuid4(), uuid4()
        person, company = uuid4(), uuid4()
        linked = event(
            ev.ContactLinkedToCompany, workspace, person, 3, bob, company_id=str(company)
        )
        written = [
            event(ev.ContactCreated, workspace, person, 0, alice),
            event(ev.CompanyCreated, workspace, company, 1, alice),
            event(ev.ContactUpdated, workspace, person, 2, bob, changes={}),
            linked,
            event(ev.DealCreated, workspace, uuid4(), 4, None),
        ]
        elsewhere = event(ev.ContactCreated, uuid4(), person, 5, alice)
        await self.record(subject, *written, elsewhere)

        async def ids(f: AuditFilter, limit: int = 50) -> list[UUID]:
            async def read(n: int, after: EventPosition | None) -> EventPage:
                return await subject.events.audit(workspace, f, n, after)

            return await self.all_pages(read, limit)

        newest_first = [e.id for e in reversed(written)]
        assert await ids(AuditFilter()) == newest_first
        assert await ids(AuditFilter(), 2) == newest_first
        assert await ids(AuditFilter(actor_id=bob)) == [linked.id, written[2].id]
        assert await ids(AuditFilter(topic="contact.")) == [linked.id, written[2].id, written[0].id]
        assert await ids(AuditFilter(topic="contact.created")) == [written[0].id]
        assert await ids(AuditFilter(record=("company", company)), 1) == [linked.id, written[1].id]
        since, until = T0 + timedelta(seconds=1), T0 + timedelta(seconds=3)
        assert await ids(AuditFilter(since=since, until=until)) == [written[2].id, written[1].id]
        page = await subject.events.audit(workspace, AuditFilter(actor_id=bob), 50, None)
        assert page.items[0].actor is not None
        assert page.items[0].actor.id == bob
        assert (await subject.events.audit(workspace, AuditFilter(), 1, None)).items[
            0
        ].actor is None

    async def test_thousands_of_events_go_in_one_add(
        self, subject: Subject, workspace: UUID
    ) -> None:
        # Moving every deal off a deleted stage records one event per deal in one call.
        person = await self.new_contact(subject, workspace)
        many = [
            event(ev.NoteAdded, workspace, uuid4(), n, record_type="contact", record_id=str(person))
            for n in range(5000)
        ]
        await self.record(subject, *many)
        page = await subject.events.timeline(workspace, C, person, 200, None)
        assert isinstance(page, EventPage)
        assert [e.id for e in page.items] == [e.id for e in reversed(many)][:200]


class TestInMemory(TimelineContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store), InMemoryEventReader(store))


class TestPostgres(TimelineContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgEventReader(pool))
