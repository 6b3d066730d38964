"""Search and export of contacts, companies and deals with filter groups (#5 items 1, 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import FieldSchema, ObjectType
from crm.domain.model.deal import Deal
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.search import SearchParser, SearchQuery, needs_custom_fields
from crm.domain.model.search_fields import EXPORT_CHUNK
from crm.domain.pagination import DEFAULT_LIMIT, PageRequest, SortOrder
from crm.domain.search_paging import (
    SearchPage,
    SearchResult,
    decode_search_cursor,
    encode_search_cursor,
)
from crm.ports.repositories import CustomFieldReader
from crm.ports.search import RecordSearch
from crm.ports.system import PhoneNumbers

T = TypeVar("T", Contact, Company, Deal)
Fetch = Callable[[UUID, SearchQuery, SearchPage], Awaitable[SearchResult[T]]]
READ = {
    ObjectType.CONTACT: Action.READ_CONTACTS,
    ObjectType.COMPANY: Action.READ_COMPANIES,
    ObjectType.DEAL: Action.READ_DEALS,
}


@dataclass(frozen=True, slots=True)
class SearchCommand:
    principal: Principal
    body: Mapping[str, Any]
    q: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Export(Generic[T]):
    """The custom field keys to export as columns, and the records a chunk at a time."""

    custom_keys: list[str]
    chunks: AsyncIterator[list[T]]


class _Search(Generic[T]):
    object_type: ObjectType

    def __init__(
        self,
        fetch: Fetch[T],
        fields: CustomFieldReader,
        phones: PhoneNumbers,
        chunk: int = EXPORT_CHUNK,
    ) -> None:
        self._fetch: Fetch[T] = fetch
        self._fields, self._phones, self._chunk = fields, phones, chunk

    async def _query(self, cmd: SearchCommand, schema: FieldSchema | None = None) -> SearchQuery:
        """Check permissions and parse; the schema is read only when a filter needs it."""
        cmd.principal.require(READ[self.object_type])
        if schema is None and needs_custom_fields(cmd.body):
            schema = await self._schema(cmd.principal.workspace_id)
        parser = SearchParser(self.object_type, self._phones.to_e164, schema)
        query = parser.parse(cmd.body, cmd.q)
        for relation in sorted(query.relations()):
            cmd.principal.require(READ[relation])
        return query

    async def _schema(self, workspace_id: UUID) -> FieldSchema:
        # At most 100 definitions per object type: one page, one statement (oldest first:
        # the order of the export's columns).
        request = PageRequest(limit=200, order=SortOrder.OLDEST_FIRST)
        page = await self._fields.list(workspace_id, request, self.object_type)
        return FieldSchema(self.object_type, page.items)

    async def execute(self, cmd: SearchCommand) -> Found[T]:
        query = await self._query(cmd)
        after = None if cmd.cursor is None else decode_search_cursor(cmd.cursor, query)
        found = await self._fetch(cmd.principal.workspace_id, query, SearchPage(cmd.limit, after))
        cursor = None if found.next is None else encode_search_cursor(found.next, query)
        return Found(found.items, cursor)

    async def export(self, cmd: SearchCommand) -> Export[T]:
        """Checked before the first byte goes out; the records then follow in chunks."""
        schema = await self._schema(cmd.principal.workspace_id)
        query = await self._query(cmd, schema)
        keys = [k for k, f in schema.fields.items() if not f.archived]
        return Export(keys, self._chunks(cmd.principal.workspace_id, query))

    async def _chunks(self, workspace_id: UUID, query: SearchQuery) -> AsyncIterator[list[T]]:
        page = SearchPage(self._chunk)
        while True:
            found = await self._fetch(workspace_id, query, page)
            yield found.items
            if found.next is None:
                return
            page = SearchPage(self._chunk, found.next)


class SearchContacts(_Search[Contact]):
    """Contacts matching filter groups (OR of groups, AND within one), optionally a fuzzy
    `q`, a keyset page at a time in the sort asked (ties by id)."""

    object_type = ObjectType.CONTACT


class SearchCompanies(_Search[Company]):
    """Companies matching filter groups (OR of groups, AND within one), optionally a fuzzy
    `q`, a keyset page at a time in the sort asked (ties by id)."""

    object_type = ObjectType.COMPANY


class SearchDeals(_Search[Deal]):
    """Deals matching filter groups (OR of groups, AND within one), optionally a fuzzy `q`,
    a keyset page at a time in the sort asked (ties by id)."""

    object_type = ObjectType.DEAL


@dataclass(frozen=True, slots=True)
class SearchUseCases:
    contacts: SearchContacts
    companies: SearchCompanies
    deals: SearchDeals

    @classmethod
    def build(
        cls, search: RecordSearch, fields: CustomFieldReader, phones: PhoneNumbers
    ) -> SearchUseCases:
        return cls(
            contacts=SearchContacts(search.contacts, fields, phones),
            companies=SearchCompanies(search.companies, fields, phones),
            deals=SearchDeals(search.deals, fields, phones),
        )
