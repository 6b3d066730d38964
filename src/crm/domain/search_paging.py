"""Keyset paging of search results: after (sort value, id), empty values last either way.

The cursor is opaque (base64 JSON of the sort, the last row's sort value and id, and the
query's fingerprint), so it only continues the search it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from crm.domain.errors import InvalidCursor
from crm.domain.model.search import SearchQuery
from crm.domain.model.search_fields import Kind
from crm.domain.pagination import DEFAULT_LIMIT, cursor_time, pack_cursor, unpack_cursor

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SearchPosition:
    """The sort value (None when the record has none) and id of a page's last record."""

    value: Any
    id: UUID


@dataclass(frozen=True, slots=True)
class SearchPage:
    limit: int = DEFAULT_LIMIT
    after: SearchPosition | None = None


@dataclass(frozen=True, slots=True)
class SearchResult(Generic[T]):
    items: list[T]
    next: SearchPosition | None


def encode_search_cursor(position: SearchPosition, query: SearchQuery) -> str:
    value = position.value
    shown = value.isoformat() if isinstance(value, date | datetime) else value
    return pack_cursor(query.sort.text, shown, str(position.id), query.fingerprint())


def decode_search_cursor(cursor: str, query: SearchQuery) -> SearchPosition:
    """Parse a cursor made by `encode_search_cursor` for this very query (filters, q, sort)."""

    def parse(parts: list[Any]) -> tuple[str, SearchPosition, str]:
        sort, value, id_, fingerprint = parts
        return sort, SearchPosition(_value(query.sort.kind, value), UUID(id_)), fingerprint

    sort, position, fingerprint = unpack_cursor(cursor, parse)
    if sort != query.sort.text or fingerprint != query.fingerprint():
        raise InvalidCursor(
            "The cursor belongs to another search (filters, q or sort); start from the first page."
        )
    return position


def _value(kind: Kind, raw: Any) -> Any:
    if raw is None:
        return None
    if kind is Kind.DATETIME:
        return cursor_time(raw)
    if kind is Kind.DATE:
        return date.fromisoformat(raw)
    if kind is Kind.NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise TypeError("not a number")
        return raw
    if not isinstance(raw, str) or "\x00" in raw:
        raise TypeError("not a string the database can compare")
    return raw
