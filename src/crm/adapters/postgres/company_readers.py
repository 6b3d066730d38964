"""Company reads straight on the asyncpg pool: one statement, one round trip each."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from crm.adapters.postgres.mapping import (
    COMPANY_FIELDS,
    CONTACT_COLUMNS,
    Row,
    company_to_domain,
    contact_to_domain,
)
from crm.adapters.postgres.read_queries import fetch_links, list_sql, rows_page, select_columns
from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.company import Company, Linked
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.pagination import Page, PageRequest, SortOrder
from crm.ports.companies import EVERY_COMPANY, CompanyFilter

T = TypeVar("T")


_COMPANY_SELECT = select_columns("co", COMPANY_FIELDS, ObjectType.COMPANY)
_CONTACT_SELECT = select_columns("ct", CONTACT_COLUMNS, ObjectType.CONTACT)
# The SQL below is assembled from constants only; values are bound.
_GET = f"SELECT {_COMPANY_SELECT} FROM company co WHERE co.workspace_id = $1 AND co.id = $2"  # noqa: S608


def _list_sql(order: SortOrder, keyset: bool, domain: bool, tags: bool) -> str:
    """`$1` workspace, `$2` limit, then in order: keyset ($created_at, $id), domain, tags."""
    filters = ("domain",) if domain else ()
    return list_sql("company", "co", _COMPANY_SELECT, order, keyset, filters, tags)


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
        return rows_page(rows, page, company_to_domain)

    async def companies_of_contact(
        self, workspace_id: UUID, contact_id: UUID, page: PageRequest
    ) -> Page[Linked[Company]] | None:
        rows = await fetch_links(self._pool, _COMPANIES_OF_CONTACT, workspace_id, contact_id, page)
        return None if rows is None else _linked_page(rows, page, company_to_domain)

    async def contacts_of_company(
        self, workspace_id: UUID, company_id: UUID, page: PageRequest
    ) -> Page[Linked[Contact]] | None:
        rows = await fetch_links(self._pool, _CONTACTS_OF_COMPANY, workspace_id, company_id, page)
        return None if rows is None else _linked_page(rows, page, contact_to_domain)


def _linked_page(
    rows: list[Row], page: PageRequest, to_domain: Callable[[Row], T]
) -> Page[Linked[T]]:
    def linked(r: Row) -> Linked[T]:
        return Linked(to_domain(r), r["link_is_primary"], r["linked_at"])

    return rows_page(rows, page, linked, "linked_at")
