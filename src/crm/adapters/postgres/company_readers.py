"""Company reads straight on the asyncpg pool: one statement, one round trip each."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from functools import cache
from typing import TypeVar
from uuid import UUID

from crm.adapters.postgres.custom_fields import tag_filter_sql, visible_custom_fields
from crm.adapters.postgres.mapping import (
    COMPANY_FIELDS,
    CONTACT_COLUMNS,
    Row,
    company_to_domain,
    contact_to_domain,
)
from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.company import Company, Linked
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.pagination import Page, PageRequest, Position, SortOrder
from crm.ports.companies import EVERY_COMPANY, CompanyFilter

T = TypeVar("T")


def _columns(alias: str, names: Sequence[str], object_type: ObjectType) -> str:
    return ", ".join(
        visible_custom_fields(alias, object_type) if n == "custom_fields" else f"{alias}.{n}"
        for n in names
    )


_COMPANY_SELECT = _columns("co", COMPANY_FIELDS, ObjectType.COMPANY)
_CONTACT_SELECT = _columns(
    "ct", [c.strip() for c in CONTACT_COLUMNS.split(",")], ObjectType.CONTACT
)
# The SQL below is assembled from constants only; values are bound.
_GET = f"SELECT {_COMPANY_SELECT} FROM company co WHERE co.workspace_id = $1 AND co.id = $2"  # noqa: S608
_KEYSET = {SortOrder.NEWEST_FIRST: ("<", "DESC"), SortOrder.OLDEST_FIRST: (">", "ASC")}


@cache
def _list_sql(order: SortOrder, keyset: bool, domain: bool, tags: bool) -> str:
    """`$1` workspace, `$2` limit, then in order: keyset ($created_at, $id), domain, tags."""
    op, direction = _KEYSET[order]
    where, n = ["co.workspace_id = $1"], 3
    if keyset:
        where.append(f"(co.created_at, co.id) {op} (${n}, ${n + 1})")
        n += 2
    if domain:
        where.append(f"co.domain = ${n}")
        n += 1
    if tags:
        where.append(tag_filter_sql("co", n))
    return (
        f"SELECT {_COMPANY_SELECT} FROM company co WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY co.created_at {direction}, co.id {direction} LIMIT $2"
    )


def _links_sql(owner: str, other: str, other_alias: str, other_select: str) -> dict[bool, str]:
    """A page of `owner`'s links with the rows at the other end, oldest link first, and no
    row at all when `owner` does not exist: `$1` workspace, `$2` owner id, `$3` limit,
    `$4, $5` the keyset. One statement, one round trip."""
    return {
        keyset: (
            f"SELECT x.* FROM {owner} o LEFT JOIN LATERAL ("  # noqa: S608
            f" SELECT l.is_primary AS link_is_primary, l.created_at AS linked_at, {other_select}"
            f" FROM contact_company l JOIN {other} {other_alias}"
            f" ON {other_alias}.workspace_id = l.workspace_id"
            f" AND {other_alias}.id = l.{other}_id"
            f" WHERE l.workspace_id = o.workspace_id AND l.{owner}_id = o.id"
            + (f" AND (l.created_at, l.{other}_id) > ($4, $5)" if keyset else "")
            + f" ORDER BY l.created_at, l.{other}_id LIMIT $3"
            ") x ON true WHERE o.workspace_id = $1 AND o.id = $2"
            " ORDER BY x.linked_at, x.id"
        )
        for keyset in (False, True)
    }


_COMPANIES_OF_CONTACT = _links_sql("contact", "company", "co", _COMPANY_SELECT)
_CONTACTS_OF_COMPANY = _links_sql("company", "contact", "ct", _CONTACT_SELECT)


class AsyncpgCompanyReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        row = await self._pool.fetchrow(_GET, workspace_id, company_id)
        return company_to_domain(row) if row else None

    async def list(
        self, workspace_id: UUID, page: PageRequest, where: CompanyFilter = EVERY_COMPANY
    ) -> Page[Company]:
        args: builtins.list[object] = []
        if page.after is not None:
            args += [page.after.created_at, page.after.id]
        if where.domain is not None:
            args.append(where.domain)
        if where.tags:
            args.append(list(where.tags))
        query = _list_sql(
            page.order, page.after is not None, where.domain is not None, bool(where.tags)
        )
        rows = await self._pool.fetch(query, workspace_id, page.limit + 1, *args)
        items = [company_to_domain(r) for r in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)

    async def companies_of_contact(
        self, workspace_id: UUID, contact_id: UUID, page: PageRequest
    ) -> Page[Linked[Company]] | None:
        rows = await self._links(_COMPANIES_OF_CONTACT, workspace_id, contact_id, page)
        return None if rows is None else _linked_page(rows, page, company_to_domain)

    async def contacts_of_company(
        self, workspace_id: UUID, company_id: UUID, page: PageRequest
    ) -> Page[Linked[Contact]] | None:
        rows = await self._links(_CONTACTS_OF_COMPANY, workspace_id, company_id, page)
        return None if rows is None else _linked_page(rows, page, contact_to_domain)

    async def _links(
        self, queries: dict[bool, str], workspace_id: UUID, owner_id: UUID, page: PageRequest
    ) -> builtins.list[Row] | None:
        keyset = () if page.after is None else (page.after.created_at, page.after.id)
        query = queries[bool(keyset)]
        rows = await self._pool.fetch(query, workspace_id, owner_id, page.limit + 1, *keyset)
        if not rows:
            return None
        return [r for r in rows if r["id"] is not None]


def _linked_page(
    rows: list[Row], page: PageRequest, to_domain: Callable[[Row], T]
) -> Page[Linked[T]]:
    items = [Linked(to_domain(r), r["link_is_primary"], r["linked_at"]) for r in rows[: page.limit]]
    if len(rows) <= page.limit:
        return Page(items, None)
    last = rows[page.limit - 1]
    return Page(items, Position(last["linked_at"], last["id"]))
