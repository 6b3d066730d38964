"""The search and export use cases on the memory adapters: permissions, the custom field
schema read only when needed, cursors, export chunks."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.custom_fields import InMemoryCustomFieldReader
from crm.adapters.memory.search import InMemoryRecordSearch
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.domain.errors import InvalidCursor
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.permissions import ActorKind, MissingScope, Principal, Role, Scope
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases.search import SearchCommand, SearchUseCases
from tests.support.search_cases import f, one
from tests.support.search_world import World, build_world


class CountingFieldReader(InMemoryCustomFieldReader):
    """The memory reader, counting the statements Postgres would run."""

    reads = 0

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[Any]:
        self.reads += 1
        return await super().list(workspace_id, page, object_type)


class Search:
    def __init__(self, store: MemoryStore, world: World, chunk: int = 1000) -> None:
        self.fields = CountingFieldReader(store)
        self.cases = SearchUseCases.build(
            InMemoryRecordSearch(store), self.fields, LibPhoneNumbers()
        )
        self.world = world
        if chunk != 1000:
            self.cases.contacts._chunk = chunk

    def key(self, *scopes: Scope) -> Principal:
        return Principal(self.world.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))

    def member(self) -> Principal:
        return Principal(self.world.ws, uuid4(), ActorKind.USER, role=Role.MEMBER)


@pytest.fixture
async def search() -> Search:
    store = MemoryStore()
    return Search(store, await build_world(lambda: InMemoryUnitOfWork(store)))


async def test_the_schema_is_read_only_for_custom_field_filters(search: Search) -> None:
    cmd = SearchCommand(search.member(), one(f("tags", "eq", "vip")))
    assert len((await search.cases.contacts.execute(cmd)).items) == 2
    assert search.fields.reads == 0
    cmd = SearchCommand(search.member(), one(f("custom_fields.score", "gt", 5)))
    assert len((await search.cases.contacts.execute(cmd)).items) == 2
    assert search.fields.reads == 1


async def test_linked_filters_need_the_linked_objects_read_scope(search: Search) -> None:
    body = one(f("company.industry", "eq", "Software"))
    with pytest.raises(MissingScope) as caught:
        await search.cases.contacts.execute(SearchCommand(search.key(Scope.CONTACTS_READ), body))
    assert "companies:read" in str(caught.value)
    with pytest.raises(MissingScope):
        await search.cases.deals.execute(SearchCommand(search.key(Scope.CONTACTS_READ), {}))
    both = search.key(Scope.CONTACTS_READ, Scope.COMPANIES_READ)
    assert len((await search.cases.contacts.execute(SearchCommand(both, body))).items) == 2


async def test_pages_follow_the_cursor_to_the_end(search: Search) -> None:
    seen, cursor = [], None
    while True:
        cmd = SearchCommand(search.member(), {"sort": "last_name"}, limit=1, cursor=cursor)
        found = await search.cases.contacts.execute(cmd)
        seen += [search.world.name_of(c.id) for c in found.items]
        if (cursor := found.next_cursor) is None:
            break
    assert seen == ["ada", "alan", "alexandra", "grace"]
    first = await search.cases.contacts.execute(SearchCommand(search.member(), {}, limit=1))
    other = SearchCommand(search.member(), {"sort": "first_name"}, cursor=first.next_cursor)
    with pytest.raises(InvalidCursor):
        await search.cases.contacts.execute(other)


async def test_export_walks_every_chunk_with_the_active_custom_fields() -> None:
    store = MemoryStore()
    search = Search(store, await build_world(lambda: InMemoryUnitOfWork(store)), chunk=3)
    export = await search.cases.contacts.export(
        SearchCommand(search.member(), {"sort": "created_at"})
    )
    assert export.custom_keys == ["score", "plan", "renewal", "seen", "vip", "langs"]
    chunks = [[search.world.name_of(c.id) for c in chunk] async for chunk in export.chunks]
    assert chunks == [["ada", "alan", "grace"], ["alexandra"]]
