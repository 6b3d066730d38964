"""Search over the committed in-memory state: the query tree evaluated in Python."""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from crm.adapters.memory.custom_fields import schema_of
from crm.adapters.memory.search_match import custom_value, field_value, holds
from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.adapters.memory.trigrams import fuzzy_match, word_similarity
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.deal import Deal
from crm.domain.model.search import Condition, SearchQuery
from crm.domain.model.search_fields import RELEVANCE
from crm.domain.search_paging import SearchPage, SearchPosition, SearchResult

T = TypeVar("T", Contact, Company, Deal)


def _search_text(record: Any) -> str:
    """The text `q` looks in, joined like the SQL functions of migration 0007 join it."""
    if isinstance(record, Contact):
        parts = [record.display_name, record.first_name, record.last_name]
        parts += [" ".join(record.emails), " ".join(record.phones)]
    elif isinstance(record, Company):
        parts = [record.name, record.domain]
    else:
        parts = [record.name]
    return " ".join(p for p in parts if p is not None)


class InMemoryRecordSearch:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def contacts(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Contact]:
        return self._search(self._store.state.contacts.values(), workspace_id, query, page)

    async def companies(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Company]:
        return self._search(self._store.state.companies.values(), workspace_id, query, page)

    async def deals(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Deal]:
        return self._search(self._store.state.deals.values(), workspace_id, query, page)

    def _search(
        self, records: Iterable[T], workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[T]:
        state = self._store.state
        found = [
            r
            for r in records
            if r.workspace_id == workspace_id
            and (query.q is None or fuzzy_match(query.q, _search_text(r)))
            and (
                not query.groups
                or any(all(self._holds(state, r, c) for c in g) for g in query.groups)
            )
        ]
        ordered = _ordered(found, query)
        if page.after is not None:
            ordered = [r for r in ordered if _after(r, page.after, query)]
        schema = schema_of(state, workspace_id, query.object_type)
        items = [copy.deepcopy(r) for r in ordered[: page.limit]]
        for item in items:
            item.custom_fields = schema.visible(item.custom_fields)
        last = items[-1] if len(ordered) > page.limit else None
        position = None if last is None else SearchPosition(_key(last, query), last.id)
        return SearchResult(items, position)

    def _holds(self, state: MemoryState, record: Any, condition: Condition) -> bool:
        ref = condition.field
        if ref.relation is not None:
            linked = _linked(state, record, ref.relation)
            return any(holds(condition, field_value(o, ref.name)) for o in linked)
        if ref.custom:
            return holds(condition, custom_value(record, ref.name, ref.kind))
        return holds(condition, field_value(record, ref.name))


def _linked(state: MemoryState, record: Any, other: ObjectType) -> list[Any]:
    ws = record.workspace_id
    if isinstance(record, Contact):
        ids = [co for (w, ct, co) in state.company_links if w == ws and ct == record.id]
        return [state.companies[i] for i in ids]
    if isinstance(record, Company):
        ids = [ct for (w, ct, co) in state.company_links if w == ws and co == record.id]
        return [state.contacts[i] for i in ids]
    table: dict[UUID, Any] = state.contacts if other is ObjectType.CONTACT else state.companies
    return [
        table[i] for (kind, w, d, i) in state.deal_links if (kind, w, d) == (other, ws, record.id)
    ]


def _key(record: Any, query: SearchQuery) -> Any:
    if query.sort.field == RELEVANCE and query.q is not None:
        # Postgres computes the similarity as a 4-byte float: so does the sort here.
        score = word_similarity(query.q, _search_text(record))
        return float(struct.unpack("f", struct.pack("f", score))[0])
    return field_value(record, query.sort.field)


def _ordered(records: list[T], query: SearchQuery) -> list[T]:
    """Sorted on the field (ties by id), records without a value last either way."""
    descending = query.sort.descending
    valued = [r for r in records if _key(r, query) is not None]
    empty = [r for r in records if _key(r, query) is None]
    valued.sort(key=lambda r: (_key(r, query), r.id), reverse=descending)
    empty.sort(key=lambda r: r.id, reverse=descending)
    return valued + empty


def _after(record: Any, position: SearchPosition, query: SearchQuery) -> bool:
    value = _key(record, query)
    beyond: Callable[[Any, Any], bool] = (
        (lambda a, b: a < b) if query.sort.descending else (lambda a, b: a > b)
    )
    if position.value is None:
        return value is None and beyond(record.id, position.id)
    return value is None or beyond((value, record.id), (position.value, position.id))
