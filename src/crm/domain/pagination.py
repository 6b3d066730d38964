"""Keyset pagination: a page is the rows after a position, never an offset."""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from crm.domain.errors import InvalidCursor
from crm.domain.model.instant import in_utc

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class SortOrder(enum.StrEnum):
    NEWEST_FIRST = "-created_at"
    OLDEST_FIRST = "created_at"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends: the sort key of its last row."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: Position | None = None
    order: SortOrder = SortOrder.NEWEST_FIRST


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: Position | None


def pack_cursor(*parts: Any) -> str:
    """An opaque cursor holding `parts` (JSON values): base64url JSON without padding."""
    raw = json.dumps(list(parts))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# What reading a forged cursor can raise: bad base64 or JSON, JSON nested too deep, wrong
# parts, a time out of range.
_MALFORMED = (ValueError, TypeError, AttributeError, OverflowError, RecursionError, binascii.Error)


def unpack_cursor(cursor: str, parse: Callable[[list[Any]], T]) -> T:
    """Read a cursor made by `pack_cursor` and turn its parts into a position with `parse`;
    whatever fails on the way (base64, JSON, the number of parts, a value) is malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return parse(json.loads(base64.urlsafe_b64decode(padded)))
    except _MALFORMED as e:
        raise InvalidCursor("The cursor is malformed; pass next_cursor back unchanged.") from e


def cursor_time(raw: Any) -> datetime:
    """A time read from a cursor, in UTC; one without an offset or beyond what UTC can hold
    (the database driver would overflow on it) is malformed."""
    value = in_utc(datetime.fromisoformat(raw))
    if value is None:
        raise ValueError(raw)
    return value


def encode_cursor(position: Position, order: SortOrder) -> str:
    return pack_cursor(position.created_at.isoformat(), str(position.id), order.value)


def decode_cursor(cursor: str, order: SortOrder) -> Position:
    """Parse a cursor made by `encode_cursor`; one made for another sort order is refused."""

    def parse(parts: list[Any]) -> tuple[Position, str]:
        created_at, id_, cursor_order = parts
        return Position(cursor_time(created_at), UUID(id_)), cursor_order

    position, cursor_order = unpack_cursor(cursor, parse)
    if cursor_order != order.value or position.created_at.tzinfo is None:
        raise InvalidCursor("The cursor belongs to another sort order; start from the first page.")
    return position
