"""One contract for the search port, on memory and Postgres: the same fixture records, the
same answers for every operator, OR/AND, custom fields, tags, linked records, sorts, keyset
paging to the end and fuzzy `q`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from crm.adapters.memory.search import InMemoryRecordSearch
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.search import AsyncpgRecordSearch
from crm.domain.model.custom_fields import FieldSchema, ObjectType
from crm.domain.model.search import SearchParser, SearchQuery
from crm.domain.model.search_fields import SORTS
from crm.domain.search_paging import SearchPage, SearchResult
from crm.ports.search import RecordSearch
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.search_cases import (
    COMPANY_CASES,
    CONTACT_CASES,
    DEAL_CASES,
    EXPECTED_ORDER,
    f,
    one,
)
from tests.support.search_world import World, build_world, search_of
from tests.support.stores import postgres

CONTACT, COMPANY, DEAL = ObjectType.CONTACT, ObjectType.COMPANY, ObjectType.DEAL


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    search: RecordSearch


class SearchContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def world(self, subject: Subject) -> World:
        return await build_world(subject.uow)

    def query(
        self, world: World, object_type: ObjectType, body: dict[str, Any], q: str | None = None
    ) -> SearchQuery:
        schema = FieldSchema(object_type, world.fields)
        parser = SearchParser(object_type, lambda raw: "".join(raw.split()), schema)
        return parser.parse(body, q)

    async def run(
        self, subject: Subject, world: World, query: SearchQuery, limit: int = 200
    ) -> SearchResult[Any]:
        search = search_of(subject.search, query.object_type)
        return await search(world.ws, query, SearchPage(limit))

    async def names(
        self,
        subject: Subject,
        world: World,
        object_type: ObjectType,
        body: dict[str, Any],
        q: str | None = None,
    ) -> list[str]:
        found = await self.run(subject, world, self.query(world, object_type, body, q))
        return [world.name_of(r.id) for r in found.items]

    @pytest.mark.parametrize(("condition", "expected"), CONTACT_CASES)
    async def test_each_operator_on_contacts(
        self, subject: Subject, world: World, condition: Any, expected: set[str]
    ) -> None:
        assert set(await self.names(subject, world, CONTACT, one(condition))) == expected

    @pytest.mark.parametrize(("condition", "expected"), DEAL_CASES)
    async def test_deals_by_their_fields_and_linked_records(
        self, subject: Subject, world: World, condition: Any, expected: set[str]
    ) -> None:
        assert set(await self.names(subject, world, DEAL, one(condition))) == expected

    @pytest.mark.parametrize(("condition", "expected"), COMPANY_CASES)
    async def test_companies_by_their_fields_and_contacts(
        self, subject: Subject, world: World, condition: Any, expected: set[str]
    ) -> None:
        assert set(await self.names(subject, world, COMPANY, one(condition))) == expected

    async def test_no_group_finds_the_whole_workspace_newest_first(
        self, subject: Subject, world: World
    ) -> None:
        assert await self.names(subject, world, CONTACT, {}) == [
            "alexandra",
            "grace",
            "alan",
            "ada",
        ]

    async def test_groups_are_ored_and_filters_anded(self, subject: Subject, world: World) -> None:
        body = {
            "filter_groups": [
                {"filters": [f("last_name", "eq", "Lovelace")]},
                {"filters": [f("tags", "eq", "vip"), f("lifecycle_stage", "eq", "opportunity")]},
                {"filters": [f("tags", "eq", "vip"), f("lifecycle_stage", "eq", "lead")]},
            ]
        }
        assert set(await self.names(subject, world, CONTACT, body)) == {"ada", "grace"}

    async def test_archived_custom_values_stay_hidden(self, subject: Subject, world: World) -> None:
        found = await self.run(
            subject, world, self.query(world, CONTACT, one(f("first_name", "eq", "Ada")))
        )
        assert [c.custom_fields.get("old") for c in found.items] == [None]
        assert found.items[0].custom_fields["plan"] == "gold"

    @pytest.mark.parametrize(
        "q", ["alexandar", "ALEXANDRA", "acme", "4155", "lovelace", "grace hop", "xyzzy"]
    )
    async def test_q_finds_substrings_and_typos(
        self, subject: Subject, world: World, q: str
    ) -> None:
        expected = {
            "alexandar": {"alexandra"}, "ALEXANDRA": {"alexandra"}, "acme": {"ada", "grace"},
            "4155": {"ada", "alexandra"}, "lovelace": {"ada"}, "grace hop": {"grace"},
            "xyzzy": set(),
        }[q]  # fmt: skip
        assert set(await self.names(subject, world, CONTACT, {}, q)) == expected

    async def test_q_on_companies_and_deals(self, subject: Subject, world: World) -> None:
        assert await self.names(subject, world, COMPANY, {}, "navy.m") == ["navy"]
        assert await self.names(subject, world, COMPANY, {}, "Acme Crop") == ["acme"]
        assert await self.names(subject, world, DEAL, {}, "renewall") == ["renewal"]
        assert await self.names(subject, world, CONTACT, one(f("tags", "eq", "vip")), "acme") == [
            "grace",
            "ada",
        ]

    @pytest.mark.parametrize("sort", [s for n in SORTS[CONTACT] for s in (n, f"-{n}")])
    @pytest.mark.parametrize("limit", [1, 3])
    async def test_every_sort_pages_to_the_end_without_gaps(
        self, subject: Subject, world: World, sort: str, limit: int
    ) -> None:
        query = self.query(world, CONTACT, {"sort": sort})
        whole = [world.name_of(c.id) for c in (await self.run(subject, world, query)).items]
        seen: list[str] = []
        page = SearchPage(limit)
        while True:
            found = await self.search_page(subject, world, query, page)
            seen += [world.name_of(c.id) for c in found.items]
            if found.next is None:
                break
            page = SearchPage(limit, found.next)
        assert seen == whole
        assert sorted(seen) == sorted(["ada", "alan", "grace", "alexandra"])
        assert whole == EXPECTED_ORDER[sort]

    async def search_page(
        self, subject: Subject, world: World, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Any]:
        return await subject.search.contacts(world.ws, query, page)

    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("ace", ["grace", "ada"]),
            ("ra", ["alexandra", "grace"]),
            ("a", ["alexandra", "grace", "alan", "ada"]),
        ],
    )
    async def test_q_without_a_sort_pages_closest_first(
        self, subject: Subject, world: World, q: str, expected: list[str]
    ) -> None:
        query = self.query(world, CONTACT, {}, q)
        seen: list[str] = []
        page = SearchPage(1)
        while True:
            found = await self.search_page(subject, world, query, page)
            seen += [world.name_of(c.id) for c in found.items]
            if found.next is None:
                break
            page = SearchPage(1, found.next)
        assert seen == expected
        asked = await self.names(subject, world, CONTACT, {"sort": "created_at"}, q)
        assert asked == sorted(expected, key=EXPECTED_ORDER["created_at"].index)

    async def test_deals_sort_on_amounts_with_empty_ones_last(
        self, subject: Subject, world: World
    ) -> None:
        assert await self.names(subject, world, DEAL, {"sort": "amount_minor"}) == [
            "small",
            "renewal",
            "navy_deal",
        ]
        assert await self.names(subject, world, DEAL, {"sort": "-amount_minor"}) == [
            "renewal",
            "small",
            "navy_deal",
        ]


class TestInMemory(SearchContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store), InMemoryRecordSearch(store))


class TestPostgres(SearchContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgRecordSearch(pool))
