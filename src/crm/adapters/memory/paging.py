"""Keyset pagination over in-memory rows, ordered like the SQL adapters' lists."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from crm.domain.pagination import Page, PageRequest, Position, SortOrder

T = TypeVar("T")


def keyset_page(
    rows: Iterable[T],
    key: Callable[[T], tuple[datetime, UUID]],
    page: PageRequest,
    clone: Callable[[T], T] = copy.deepcopy,
) -> Page[T]:
    """The page of `rows` after `page.after` by `key` (a (time, id) position), in
    `page.order`; each row handed out is `clone(row)` so callers cannot change the state."""
    newest_first = page.order is SortOrder.NEWEST_FIRST
    ordered = sorted(rows, key=key, reverse=newest_first)
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        ordered = [r for r in ordered if (key(r) < after if newest_first else key(r) > after)]
    items = [clone(r) for r in ordered[: page.limit]]
    more = len(ordered) > page.limit
    return Page(items, Position(*key(items[-1])) if more else None)
