"""One contract for the merge ports (moves and tombstones), on memory and Postgres: the same
moves give the same links, notes, tasks and tombstones on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import pytest_asyncio

from crm.adapters.memory.deals import InMemoryDealReader
from crm.adapters.memory.merges import InMemoryTombstoneReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.deal_readers import AsyncpgDealReader
from crm.adapters.postgres.merges import AsyncpgTombstoneReader
from crm.domain.model.company import CompanyLink
from crm.domain.model.deal import LinkedObject
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import RecordType
from crm.domain.pagination import PageRequest, SortOrder
from crm.ports.deals import DealReader
from crm.ports.merges import TombstoneReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_companies_contract import company
from tests.contract.test_deals_contract import deal, pipeline
from tests.contract.test_notes_contract import note
from tests.contract.test_persistence_contract import T0, contact
from tests.contract.test_tasks_contract import task
from tests.support.stores import new_workspace, postgres

C, CO = RecordType.CONTACT, RecordType.COMPANY
LATER = T0 + timedelta(hours=1)
OLDEST = PageRequest(50, None, SortOrder.OLDEST_FIRST)


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    deals: DealReader
    tombstones: TombstoneReader


class MergeContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def ws(self, subject: Subject) -> UUID:
        return await new_workspace(subject.uow)

    async def contacts(self, subject: Subject, ws: UUID, n: int) -> list[UUID]:
        made = [contact(ws, i, emails=(f"{uuid4().hex}@example.com",)) for i in range(n)]
        async with subject.uow() as uow:
            for c in made:
                await uow.contacts.add(c)
            await uow.commit()
        return [c.id for c in made]

    async def companies(self, subject: Subject, ws: UUID, n: int) -> list[UUID]:
        made = [company(ws, i, domain=f"{uuid4().hex}.com") for i in range(n)]
        async with subject.uow() as uow:
            for c in made:
                await uow.companies.add(c)
            await uow.commit()
        return [c.id for c in made]

    async def link(self, subject: Subject, ws: UUID, *links: tuple[UUID, UUID, bool]) -> None:
        async with subject.uow() as uow:
            for i, (ct, co, primary) in enumerate(links):
                at = T0 + timedelta(seconds=i)
                await uow.company_links.write([CompanyLink(ws, ct, co, primary, at)])
            await uow.commit()

    async def links_of(self, subject: Subject, ws: UUID, contact_id: UUID) -> dict[UUID, bool]:
        async with subject.uow() as uow:
            return {
                x.company_id: x.is_primary
                for x in await uow.company_links.of_contact(ws, contact_id)
            }

    async def deals(
        self, subject: Subject, ws: UUID, kind: LinkedObject, *others: list[UUID]
    ) -> list[UUID]:
        """One deal per list of `others`, linked to each of them."""
        p = pipeline(ws)
        made = [deal(p, i) for i in range(len(others))]
        async with subject.uow() as uow:
            await uow.pipelines.add(p)
            for d, linked in zip(made, others, strict=True):
                await uow.deals.add(d)
                for other in linked:
                    await uow.deal_links.link(kind, ws, d.id, other, T0)
            await uow.commit()
        return [d.id for d in made]

    async def deals_of(
        self, subject: Subject, kind: LinkedObject, ws: UUID, other: UUID
    ) -> set[UUID]:
        page = await subject.deals.deals_of(kind, ws, other, OLDEST)
        return set() if page is None else {x.item.id for x in page.items}

    async def test_a_contacts_company_links_move_and_collapse(
        self, subject: Subject, ws: UUID
    ) -> None:
        survivor, source, bystander = await self.contacts(subject, ws, 3)
        shared, mine, theirs = await self.companies(subject, ws, 3)
        await self.link(
            subject,
            ws,
            (survivor, shared, False),
            (survivor, mine, True),
            (source, shared, True),
            (source, theirs, False),
            (bystander, theirs, True),
        )
        async with subject.uow() as uow:
            moved = await uow.merges.move_contact_companies(ws, source, survivor)
            await uow.commit()
        assert moved == 1
        # The survivor kept its primary company; the source's primary joined as secondary.
        assert await self.links_of(subject, ws, survivor) == {
            shared: False,
            mine: True,
            theirs: False,
        }
        assert await self.links_of(subject, ws, source) == {}
        assert await self.links_of(subject, ws, bystander) == {theirs: True}

    async def test_a_survivor_without_a_primary_takes_the_sources(
        self, subject: Subject, ws: UUID
    ) -> None:
        survivor, source = await self.contacts(subject, ws, 2)
        shared, theirs = await self.companies(subject, ws, 2)
        await self.link(subject, ws, (survivor, shared, False), (source, shared, True))
        await self.link(subject, ws, (source, theirs, False))
        async with subject.uow() as uow:
            assert await uow.merges.move_contact_companies(ws, source, survivor) == 1
            await uow.commit()
        assert await self.links_of(subject, ws, survivor) == {shared: True, theirs: False}

    async def test_a_companys_contacts_move_and_keep_their_primary(
        self, subject: Subject, ws: UUID
    ) -> None:
        both, only_source, only_survivor = await self.contacts(subject, ws, 3)
        survivor, source = await self.companies(subject, ws, 2)
        await self.link(
            subject,
            ws,
            (both, survivor, False),
            (both, source, True),
            (only_source, source, False),
            (only_survivor, survivor, True),
        )
        async with subject.uow() as uow:
            assert await uow.merges.move_company_contacts(ws, source, survivor) == 1
            await uow.commit()
        assert await self.links_of(subject, ws, both) == {survivor: True}
        assert await self.links_of(subject, ws, only_source) == {survivor: False}
        assert await self.links_of(subject, ws, only_survivor) == {survivor: True}

    async def test_deal_links_move_and_collapse(self, subject: Subject, ws: UUID) -> None:
        survivor, source, bystander = await self.contacts(subject, ws, 3)
        both, only_source, theirs = await self.deals(
            subject, ws, LinkedObject.CONTACT, [survivor, source], [source], [bystander]
        )
        async with subject.uow() as uow:
            moved = await uow.merges.move_deal_links(LinkedObject.CONTACT, ws, source, survivor)
            await uow.commit()
        assert moved == 1
        k = LinkedObject.CONTACT
        assert await self.deals_of(subject, k, ws, survivor) == {both, only_source}
        assert await self.deals_of(subject, k, ws, bystander) == {theirs}

    async def test_a_companys_deal_links_move(self, subject: Subject, ws: UUID) -> None:
        survivor, source = await self.companies(subject, ws, 2)
        [d] = await self.deals(subject, ws, LinkedObject.COMPANY, [source])
        async with subject.uow() as uow:
            assert await uow.merges.move_deal_links(LinkedObject.COMPANY, ws, source, survivor) == 1
            await uow.commit()
        assert await self.deals_of(subject, LinkedObject.COMPANY, ws, survivor) == {d}

    async def test_notes_and_tasks_move_as_new_versions(self, subject: Subject, ws: UUID) -> None:
        survivor, source, bystander = await self.contacts(subject, ws, 3)
        moving, staying = note(ws, source, 1), note(ws, bystander, 2)
        moving_task = task(ws, 1, record_type=C, record_id=source)
        staying_task = task(ws, 2, record_type=C, record_id=bystander)
        async with subject.uow() as uow:
            for n in (moving, staying):
                await uow.notes.add(n)
            for t in (moving_task, staying_task):
                await uow.tasks.add(t)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.merges.move_notes(ws, C, source, survivor, LATER) == 1
            assert await uow.merges.move_tasks(ws, C, source, survivor, LATER) == 1
            # Another record type with the same id is another record.
            assert await uow.merges.move_notes(ws, CO, bystander, survivor, LATER) == 0
            await uow.commit()
        async with subject.uow() as uow:
            got = await uow.notes.get_for_update(ws, moving.id)
            assert got is not None
            assert (got.record_id, got.version, got.updated_at) == (survivor, 2, LATER)
            assert await uow.notes.get_for_update(ws, staying.id) == staying
            got_task = await uow.tasks.get_for_update(ws, moving_task.id)
            assert got_task is not None
            assert (got_task.record_id, got_task.version) == (survivor, 2)
            assert await uow.tasks.get_for_update(ws, staying_task.id) == staying_task

    async def test_tombstones_follow_their_survivor(self, subject: Subject, ws: UUID) -> None:
        a, b, c = uuid4(), uuid4(), uuid4()
        async with subject.uow() as uow:
            await uow.merges.bury(Tombstone(ws, C, a, b, None, T0))
            await uow.merges.bury(Tombstone(ws, C, b, c, uuid4(), LATER))
            assert await uow.merges.merged_into(ws, C, a) == c
            await uow.commit()
        for gone in (a, b):
            assert await subject.tombstones.merged_into(ws, C, gone) == c
        assert await subject.tombstones.merged_into(ws, C, c) is None
        assert await subject.tombstones.merged_into(ws, CO, a) is None
        other = await new_workspace(subject.uow)
        assert await subject.tombstones.merged_into(other, C, a) is None
        async with subject.uow() as uow:
            assert await uow.merges.merged_into(other, C, a) is None


class TestInMemory(MergeContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(
            lambda: InMemoryUnitOfWork(store),
            InMemoryDealReader(store),
            InMemoryTombstoneReader(store),
        )


class TestPostgres(MergeContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgDealReader(pool), AsyncpgTombstoneReader(pool))
