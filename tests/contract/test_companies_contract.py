"""One contract for the company ports (repositories, links, reader), on memory and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from crm.adapters.memory.companies import InMemoryCompanyReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.company_readers import AsyncpgCompanyReader
from crm.domain.errors import CompanyDomainTaken, VersionConflict
from crm.domain.model.company import Company, CompanyLink
from crm.domain.model.company_rules import Address, SizeBand
from crm.domain.model.custom_fields import CustomField, FieldType, ObjectType
from crm.domain.pagination import PageRequest, SortOrder
from crm.ports.companies import CompanyFilter, CompanyReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import IDS, T0, contact
from tests.support.stores import new_workspace, postgres

OLDEST = PageRequest(50, None, SortOrder.OLDEST_FIRST)


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    companies: CompanyReader


def company(workspace_id: UUID, n: int = 0, **fields: Any) -> Company:
    at = T0 + timedelta(seconds=n)
    values: dict[str, Any] = {
        "name": f"Acme {n}",
        "domain": f"acme{n}.com",
        "industry": "Tools",
        "size_band": SizeBand.M,
        "country": "GB",
        "address": Address(line1="1 Main St", city="London", postal_code="SW1"),
        "website": f"https://www.acme{n}.com",
        "owner_id": None,
        "tags": ("vip", "b2b"),
        "custom_fields": {"arr": 10, "plan": "gold"},
        "created_at": at,
        "updated_at": at,
    }
    values.update(fields)
    return Company(IDS.new_id(), workspace_id, **values)


def link(c: Any, co: Company, primary: bool = False, n: int = 0) -> CompanyLink:
    return CompanyLink(co.workspace_id, c.id, co.id, primary, T0 + timedelta(minutes=n))


class CompanyContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        return await self.new_workspace(subject)

    async def new_workspace(self, subject: Subject) -> UUID:
        return await new_workspace(subject.uow)

    async def add(self, subject: Subject, *objects: Any) -> None:
        async with subject.uow() as uow:
            for o in objects:
                if isinstance(o, Company):
                    await uow.companies.add(o)
                elif isinstance(o, CompanyLink):
                    await uow.company_links.write([o])
                else:
                    await uow.contacts.add(o)
            await uow.commit()

    async def test_a_company_reads_back_equal(self, subject: Subject, workspace: UUID) -> None:
        full, bare = company(workspace, 1), company(workspace, 2, domain=None, address=None)
        bare = replace(bare, size_band=None, tags=(), custom_fields={}, country=None)
        await self.add(subject, full, bare)
        for c in (full, bare):
            assert await subject.companies.get(workspace, c.id) == c
            async with subject.uow() as uow:
                assert await uow.companies.get(workspace, c.id) == c
                assert await uow.companies.get_for_update(workspace, c.id) == c

    async def test_another_workspace_cannot_read_it(
        self, subject: Subject, workspace: UUID
    ) -> None:
        c = company(workspace)
        await self.add(subject, c)
        other = await self.new_workspace(subject)
        assert await subject.companies.get(other, c.id) is None
        assert (await subject.companies.list(other, OLDEST)).items == []
        async with subject.uow() as uow:
            assert await uow.companies.get(other, c.id) is None
            assert await uow.companies.get_for_update(other, c.id) is None

    async def test_nothing_is_kept_without_commit(self, subject: Subject, workspace: UUID) -> None:
        c = company(workspace)
        async with subject.uow() as uow:
            await uow.companies.add(c)
        assert await subject.companies.get(workspace, c.id) is None
        await self.add(subject, company(workspace, 2, domain=c.domain))

    async def test_a_domain_belongs_to_one_company_per_workspace(
        self, subject: Subject, workspace: UUID
    ) -> None:
        first = company(workspace, 1, domain="acme.com")
        await self.add(subject, first)
        with pytest.raises(CompanyDomainTaken) as excinfo:
            await self.add(subject, company(workspace, 2, domain="acme.com"))
        assert str(first.id) in excinfo.value.detail
        other = await self.new_workspace(subject)
        await self.add(subject, company(other, 3, domain="acme.com"))
        await self.add(subject, company(workspace, 4, domain=None))
        await self.add(subject, company(workspace, 5, domain=None))
        assert len((await subject.companies.list(workspace, OLDEST)).items) == 3

    async def test_save_moves_the_domain(self, subject: Subject, workspace: UUID) -> None:
        a, b = company(workspace, 1, domain="a.com"), company(workspace, 2, domain="b.com")
        await self.add(subject, a, b)
        async with subject.uow() as uow:
            b.domain, b.version = "a.com", 2
            with pytest.raises(CompanyDomainTaken) as excinfo:
                await uow.companies.save(b, expected_version=1)
            assert str(a.id) in excinfo.value.detail
        async with subject.uow() as uow:
            a.domain, a.version, a.name = "new-a.com", 2, "Renamed"
            await uow.companies.save(a, expected_version=1)
            await uow.commit()
        assert await subject.companies.get(workspace, a.id) == a
        b.domain, b.version = "a.com", 2
        async with subject.uow() as uow:
            await uow.companies.save(b, expected_version=1)
            await uow.commit()
        assert await subject.companies.get(workspace, b.id) == b

    async def test_a_stale_save_is_refused(self, subject: Subject, workspace: UUID) -> None:
        c = company(workspace)
        await self.add(subject, c)
        async with subject.uow() as uow:
            c.version = 5
            with pytest.raises(VersionConflict):
                await uow.companies.save(c, expected_version=4)

    @pytest.mark.parametrize("order", list(SortOrder))
    async def test_keyset_pages_cover_everything_once(
        self, subject: Subject, workspace: UUID, order: SortOrder
    ) -> None:
        made = [company(workspace, n) for n in range(9)]
        made.append(company(workspace, 100, created_at=made[4].created_at))
        await self.add(subject, *made)
        seen, after = [], None
        while True:
            page = await subject.companies.list(workspace, PageRequest(3, after, order))
            seen += [c.id for c in page.items]
            if page.next is None:
                break
            after = page.next
        expected = sorted(made, key=lambda c: (c.created_at, c.id))
        if order is SortOrder.NEWEST_FIRST:
            expected.reverse()
        assert seen == [c.id for c in expected]

    async def test_lists_filter_by_domain_and_tags(self, subject: Subject, workspace: UUID) -> None:
        a = company(workspace, 1, domain="a.com", tags=("vip", "b2b"))
        b = company(workspace, 2, domain="b.com", tags=("vip",))
        c = company(workspace, 3, domain="c.com", tags=())
        await self.add(subject, a, b, c)

        async def ids(where: CompanyFilter, page: PageRequest = OLDEST) -> list[UUID]:
            return [x.id for x in (await subject.companies.list(workspace, page, where)).items]

        assert await ids(CompanyFilter(domain="b.com")) == [b.id]
        assert await ids(CompanyFilter(domain="z.com")) == []
        assert await ids(CompanyFilter(tags=("vip",))) == [a.id, b.id]
        assert await ids(CompanyFilter(tags=("vip", "b2b"))) == [a.id]
        assert await ids(CompanyFilter(domain="a.com", tags=("b2b",))) == [a.id]
        first = await subject.companies.list(
            workspace, PageRequest(1, None, SortOrder.OLDEST_FIRST), CompanyFilter(tags=("vip",))
        )
        assert [x.id for x in first.items] == [a.id]
        assert await ids(
            CompanyFilter(tags=("vip",)), PageRequest(1, first.next, SortOrder.OLDEST_FIRST)
        ) == [b.id]

    async def test_archived_custom_fields_are_hidden_but_kept(
        self, subject: Subject, workspace: UUID
    ) -> None:
        archived = CustomField(
            IDS.new_id(),
            workspace,
            ObjectType.COMPANY,
            "plan",
            "Plan",
            FieldType.TEXT,
            (),
            T0,
            T0,
            T0,
        )
        c = company(workspace)
        async with subject.uow() as uow:
            await uow.custom_fields.add(archived)
            await uow.companies.add(c)
            await uow.commit()
        shown = await subject.companies.get(workspace, c.id)
        assert shown is not None
        assert shown.custom_fields == {"arr": 10}
        async with subject.uow() as uow:
            stored = await uow.companies.get(workspace, c.id)
        assert stored is not None
        assert stored.custom_fields == {"arr": 10, "plan": "gold"}

    # Links

    async def test_links_read_from_both_sides_in_pages(
        self, subject: Subject, workspace: UUID
    ) -> None:
        people = [contact(workspace, n) for n in range(5)]
        acme, globex = company(workspace, 1), company(workspace, 2)
        links = [link(p, acme, primary=True, n=n) for n, p in enumerate(people)]
        links.append(link(people[0], globex, n=10))
        await self.add(subject, *people, acme, globex, *links)

        async def every(fetch: Any, owner: UUID) -> list[tuple[UUID, bool]]:
            seen, after = [], None
            while True:
                page = await fetch(workspace, owner, PageRequest(2, after, SortOrder.OLDEST_FIRST))
                seen += [(x.item.id, x.is_primary) for x in page.items]
                if page.next is None:
                    return seen
                assert len(page.items) == 2
                after = page.next

        assert await every(subject.companies.contacts_of_company, acme.id) == [
            (p.id, True) for p in people
        ]
        assert await every(subject.companies.companies_of_contact, people[0].id) == [
            (acme.id, True),
            (globex.id, False),
        ]
        page = await subject.companies.companies_of_contact(workspace, people[0].id, OLDEST)
        assert page is not None
        assert page.items[0].item == acme
        assert page.items[0].linked_at == T0
        contacts = await subject.companies.contacts_of_company(workspace, globex.id, OLDEST)
        assert contacts is not None
        assert [x.item for x in contacts.items] == [people[0]]
        async with subject.uow() as uow:
            assert await uow.company_links.of_contact(workspace, people[0].id) == [
                links[0],
                links[-1],
            ]

    async def test_a_missing_owner_is_none_and_no_links_an_empty_page(
        self, subject: Subject, workspace: UUID
    ) -> None:
        c, co = contact(workspace), company(workspace)
        await self.add(subject, c, co)
        other = await self.new_workspace(subject)
        reader = subject.companies
        companies = await reader.companies_of_contact(workspace, c.id, OLDEST)
        contacts = await reader.contacts_of_company(workspace, co.id, OLDEST)
        assert companies is not None
        assert contacts is not None
        assert (companies.items, contacts.items) == ([], [])
        assert await reader.companies_of_contact(other, c.id, OLDEST) is None
        assert await reader.contacts_of_company(other, co.id, OLDEST) is None
        assert await reader.companies_of_contact(workspace, uuid4(), OLDEST) is None
        assert await reader.contacts_of_company(workspace, uuid4(), OLDEST) is None

    async def test_write_updates_the_flag_and_remove_unlinks(
        self, subject: Subject, workspace: UUID
    ) -> None:
        c, a, b = contact(workspace), company(workspace, 1), company(workspace, 2)
        first, second = link(c, a, primary=True), link(c, b, n=1)
        await self.add(subject, c, a, b, first, second)
        async with subject.uow() as uow:
            await uow.company_links.write(
                [replace(first, is_primary=False), replace(second, is_primary=True)]
            )
            await uow.company_links.remove(first)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.company_links.of_contact(workspace, c.id) == [
                replace(second, is_primary=True)
            ]

    async def test_removing_a_company_unlinks_and_keeps_the_contacts(
        self, subject: Subject, workspace: UUID
    ) -> None:
        c, a, b = contact(workspace), company(workspace, 1, domain="a.com"), company(workspace, 2)
        await self.add(subject, c, a, b, link(c, a, primary=True), link(c, b, n=1))
        async with subject.uow() as uow:
            await uow.companies.remove(a)
            await uow.commit()
        async with subject.uow() as uow:
            assert await uow.company_links.of_contact(workspace, c.id) == [link(c, b, n=1)]
            assert await uow.contacts.get_for_update(workspace, c.id) == c
        assert await subject.companies.contacts_of_company(workspace, a.id, OLDEST) is None
        await self.add(subject, company(workspace, 3, domain="a.com"))

    async def test_removing_a_contact_removes_its_links(
        self, subject: Subject, workspace: UUID
    ) -> None:
        c, a = contact(workspace), company(workspace)
        await self.add(subject, c, a, link(c, a, primary=True))
        async with subject.uow() as uow:
            await uow.contacts.remove(c)
            await uow.commit()
        page = await subject.companies.contacts_of_company(workspace, a.id, OLDEST)
        assert page is not None
        assert page.items == []
        assert await subject.companies.get(workspace, a.id) == a


class TestInMemory(CompanyContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store), InMemoryCompanyReader(store))


class TestPostgres(CompanyContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgCompanyReader(pool))

    async def test_the_database_refuses_a_second_primary_and_a_cross_workspace_link(
        self, subject: Subject, workspace: UUID, db: asyncpg.Connection
    ) -> None:
        c, a, b = contact(workspace), company(workspace, 1), company(workspace, 2)
        other = await self.new_workspace(subject)
        foreign = company(other, 3)
        await self.add(subject, c, a, b, foreign, link(c, a, primary=True))
        with pytest.raises(asyncpg.UniqueViolationError):
            await db.execute(
                "INSERT INTO contact_company VALUES ($1, $2, $3, true, now())",
                workspace,
                c.id,
                b.id,
            )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await db.execute(
                "INSERT INTO contact_company VALUES ($1, $2, $3, false, now())",
                workspace,
                c.id,
                foreign.id,
            )
