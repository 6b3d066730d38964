"""Search on the read pool: one statement per page (see `search_sql.py` for the SQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from crm.adapters.postgres.deals import DEAL_COLUMNS, deal_to_domain
from crm.adapters.postgres.mapping import (
    COMPANY_FIELDS,
    CONTACT_COLUMNS,
    company_to_domain,
    contact_to_domain,
)
from crm.adapters.postgres.read_queries import select_columns
from crm.adapters.postgres.readers import ReadPool
from crm.adapters.postgres.search_sql import TABLES, Statement
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.deal import Deal
from crm.domain.model.search import SearchQuery
from crm.domain.search_paging import SearchPage, SearchPosition, SearchResult

T = TypeVar("T", Contact, Company, Deal)

_ALIAS = {ObjectType.CONTACT: "c", ObjectType.COMPANY: "co", ObjectType.DEAL: "d"}
_SELECT = {
    ObjectType.CONTACT: select_columns("c", CONTACT_COLUMNS, ObjectType.CONTACT),
    ObjectType.COMPANY: select_columns("co", COMPANY_FIELDS, ObjectType.COMPANY),
    ObjectType.DEAL: select_columns("d", DEAL_COLUMNS, ObjectType.DEAL),
}


def search_sql(workspace_id: UUID, query: SearchQuery, page: SearchPage) -> tuple[str, list[Any]]:
    """The statement and its values for one page (`limit + 1` rows: the extra says more)."""
    alias = _ALIAS[query.object_type]
    statement = Statement([workspace_id, page.limit + 1])
    where = statement.where(query, alias, page.after)
    # The sort value goes out with each row: the cursor carries the last one's.
    score = f", {statement.sort_column(query, alias)} AS sort_value"
    sql = (
        f"SELECT {_SELECT[query.object_type]}{score} FROM {TABLES[query.object_type]} {alias}"  # noqa: S608
        f" WHERE {where} ORDER BY {statement.order_by(query, alias)} LIMIT $2"
    )
    return sql, statement.args


class AsyncpgRecordSearch:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def contacts(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Contact]:
        """Contacts matching `query`, one statement."""
        return await self._search(workspace_id, query, page, contact_to_domain)

    async def companies(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Company]:
        """Companies matching `query`, one statement."""
        return await self._search(workspace_id, query, page, company_to_domain)

    async def deals(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Deal]:
        """Deals matching `query`, one statement."""
        return await self._search(workspace_id, query, page, deal_to_domain)

    async def _search(
        self,
        workspace_id: UUID,
        query: SearchQuery,
        page: SearchPage,
        to_domain: Callable[[Any], T],
    ) -> SearchResult[T]:
        sql, args = search_sql(workspace_id, query, page)
        rows = await self._pool.fetch(sql, *args)
        items = [to_domain(r) for r in rows[: page.limit]]
        if len(rows) <= page.limit:
            return SearchResult(items, None)
        last = rows[page.limit - 1]
        return SearchResult(items, SearchPosition(last["sort_value"], last["id"]))
