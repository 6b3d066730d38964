"""Keyset pages of rows keyed by (created_at, id): the query fetches one row more than the
page, and that extra row says whether a next page exists."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from crm.domain.pagination import Page, Position


class _Keyed(Protocol):
    @property
    def created_at(self) -> Any: ...

    @property
    def id(self) -> Any: ...


T = TypeVar("T", bound=_Keyed)


def page_of(items: list[T], limit: int) -> Page[T]:
    """The first `limit` of `items` (fetched with `LIMIT limit + 1`), and the position after
    the last of them when more followed."""
    more = len(items) > limit
    items = items[:limit]
    return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)
