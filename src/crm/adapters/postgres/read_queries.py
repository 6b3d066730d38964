"""What the asyncpg readers share: select lists, keyset list statements, the owner-or-nothing
link fetch, and pages built from `limit + 1` rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from crm.adapters.postgres.custom_fields import tag_filter_sql, visible_custom_fields
from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.custom_fields import ObjectType
from crm.domain.pagination import Page, PageRequest, Position, SortOrder

T = TypeVar("T")
KEYSET = {SortOrder.NEWEST_FIRST: ("<", "DESC"), SortOrder.OLDEST_FIRST: (">", "ASC")}


def select_columns(alias: str, names: str | Sequence[str], object_type: ObjectType) -> str:
    """`alias.column, …` for `names` (a list or a comma-separated string); custom fields
    without the values of archived definitions."""
    listed = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    return ", ".join(
        visible_custom_fields(alias, object_type) if n == "custom_fields" else f"{alias}.{n}"
        for n in listed
    )


@cache
def list_sql(
    table: str,
    alias: str,
    select: str,
    order: SortOrder,
    keyset: bool,
    filters: tuple[str, ...],
    tags: bool,
) -> str:
    """A page of `table` in `order`: `$1` workspace, `$2` limit, then in order: keyset
    ($created_at, $id), one value per column in `filters` (equality), tags."""
    op, direction = KEYSET[order]
    where, n = [f"{alias}.workspace_id = $1"], 3
    if keyset:
        where.append(f"({alias}.created_at, {alias}.id) {op} (${n}, ${n + 1})")
        n += 2
    for column in filters:
        where.append(f"{alias}.{column} = ${n}")
        n += 1
    if tags:
        where.append(tag_filter_sql(alias, n))
    return (
        f"SELECT {select} FROM {table} {alias} WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY {alias}.created_at {direction}, {alias}.id {direction} LIMIT $2"
    )


async def fetch_links(
    pool: ReadPool, queries: dict[bool, str], workspace_id: UUID, owner_id: UUID, page: PageRequest
) -> list[Any] | None:
    """Run one of `queries` (without/with keyset: `$1` workspace, `$2` owner, `$3` limit,
    `$4, $5` keyset); None when the owner does not exist (no row at all), else its rows (a
    lone all-null row when it has no links is dropped)."""
    keyset = () if page.after is None else (page.after.created_at, page.after.id)
    rows = await pool.fetch(queries[bool(keyset)], workspace_id, owner_id, page.limit + 1, *keyset)
    if not rows:
        return None
    return [r for r in rows if r["id"] is not None]


def rows_page(
    rows: Sequence[Any], page: PageRequest, to_domain: Callable[[Any], T], at: str = "created_at"
) -> Page[T]:
    """The first `page.limit` of `rows` (fetched with `limit + 1`); the next position is the
    last one's (`at`, id) when there are more."""
    items = [to_domain(r) for r in rows[: page.limit]]
    more = len(rows) > page.limit
    last = rows[page.limit - 1] if more else None
    return Page(items, Position(last[at], last["id"]) if last is not None else None)
