"""Keyset pagination: a page is the rows after a position, never an offset."""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from crm.domain.errors import InvalidCursor

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


def encode_cursor(position: Position, order: SortOrder) -> str:
    raw = json.dumps([position.created_at.isoformat(), str(position.id), order.value])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: SortOrder) -> Position:
    """Parse a cursor made by `encode_cursor`; one made for another sort order is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, id_, cursor_order = json.loads(base64.urlsafe_b64decode(padded))
        position = Position(datetime.fromisoformat(created_at), UUID(id_))
    except (ValueError, TypeError, binascii.Error) as e:
        raise InvalidCursor("The cursor is malformed; pass next_cursor back unchanged.") from e
    if cursor_order != order.value or position.created_at.tzinfo is None:
        raise InvalidCursor("The cursor belongs to another sort order; start from the first page.")
    return position
