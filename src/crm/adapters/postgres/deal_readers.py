"""Hot-path reads of pipelines and deals on the asyncpg pool: one statement each."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from crm.adapters.postgres.deals import (
    DEAL_COLUMNS,
    PIPELINE_COLUMNS,
    deal_to_domain,
    pipeline_to_domain,
)
from crm.adapters.postgres.mapping import (
    COMPANY_FIELDS,
    CONTACT_COLUMNS,
    Row,
    company_to_domain,
    contact_to_domain,
)
from crm.adapters.postgres.read_queries import fetch_links, list_sql, rows_page, select_columns
from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.deal import Deal, LinkedObject, LinkedTo, StageChange
from crm.domain.model.pipeline import CurrencyTotal, Pipeline, Stage, StageKind, StageSummary
from crm.domain.pagination import Page, PageRequest, SortOrder
from crm.ports.deals import DealFilter

T = TypeVar("T")


_DEAL = select_columns("d", DEAL_COLUMNS, ObjectType.DEAL)
_CONTACT = select_columns("ct", CONTACT_COLUMNS, ObjectType.CONTACT)
_COMPANY = select_columns("co", COMPANY_FIELDS, ObjectType.COMPANY)
# The SQL below is assembled from constants only; values are bound.
_GET_DEAL = f"SELECT {_DEAL} FROM deal d WHERE d.workspace_id = $1 AND d.id = $2"  # noqa: S608
_GET_PIPELINE = f"SELECT {PIPELINE_COLUMNS} FROM pipeline p WHERE p.workspace_id = $1 AND p.id = $2"  # noqa: S608
_LIST_PIPELINES = {
    keyset: f"SELECT {PIPELINE_COLUMNS} FROM pipeline p WHERE p.workspace_id = $1"  # noqa: S608
    + (" AND (p.created_at, p.id) > ($3, $4)" if keyset else "")
    + " ORDER BY p.created_at, p.id LIMIT $2"
    for keyset in (False, True)
}
# Every stage with its deals grouped by currency (a stage without deals still has one row).
_SUMMARY = (
    "SELECT s.id, s.name, s.probability, s.kind, s.position, s.created_at, d.currency,"
    " count(d.id) AS deal_count, sum(d.amount) AS amount"
    " FROM pipeline_stage s LEFT JOIN deal d ON d.workspace_id = s.workspace_id"
    " AND d.pipeline_id = s.pipeline_id AND d.stage_id = s.id"
    " WHERE s.workspace_id = $1 AND s.pipeline_id = $2"
    " GROUP BY s.id, d.currency ORDER BY s.position, d.currency NULLS FIRST"
)
_HISTORY = {
    keyset: "SELECT h.id, h.workspace_id, h.deal_id, h.from_stage_id, h.to_stage_id, h.moved_by,"  # noqa: S608
    " h.moved_at FROM deal o LEFT JOIN LATERAL (SELECT * FROM deal_stage_history x"
    " WHERE x.workspace_id = o.workspace_id AND x.deal_id = o.id"
    + (" AND (x.moved_at, x.id) > ($4, $5)" if keyset else "")
    + " ORDER BY x.moved_at, x.id LIMIT $3) h ON true WHERE o.workspace_id = $1 AND o.id = $2"
    " ORDER BY h.moved_at, h.id"
    for keyset in (False, True)
}


def _list_sql(order: SortOrder, keyset: bool, filters: tuple[str, ...], tags: bool) -> str:
    """`$1` workspace, `$2` limit, then: keyset ($created_at, $id), each filter, tags."""
    return list_sql("deal", "d", _DEAL, order, keyset, filters, tags)


def _links_sql(owner: str, link: str, other: str, alias: str, select: str) -> dict[bool, str]:
    """A page of `owner`'s links with the rows at the other end, oldest link first, and no
    row at all when `owner` does not exist: `$1` workspace, `$2` owner id, `$3` limit,
    `$4, $5` the keyset (link time, other id)."""
    return {
        keyset: (
            f"SELECT x.* FROM {owner} o LEFT JOIN LATERAL ("  # noqa: S608
            f" SELECT l.created_at AS linked_at, {select} FROM {link} l JOIN {other} {alias}"
            f" ON {alias}.workspace_id = l.workspace_id AND {alias}.id = l.{other}_id"
            f" WHERE l.workspace_id = o.workspace_id AND l.{owner}_id = o.id"
            + (f" AND (l.created_at, l.{other}_id) > ($4, $5)" if keyset else "")
            + f" ORDER BY l.created_at, l.{other}_id LIMIT $3"
            ") x ON true WHERE o.workspace_id = $1 AND o.id = $2"
        )
        for keyset in (False, True)
    }


_DEALS_OF = {
    LinkedObject.CONTACT: _links_sql("contact", "deal_contact", "deal", "d", _DEAL),
    LinkedObject.COMPANY: _links_sql("company", "deal_company", "deal", "d", _DEAL),
}
_CONTACTS_OF_DEAL = _links_sql("deal", "deal_contact", "contact", "ct", _CONTACT)
_COMPANIES_OF_DEAL = _links_sql("deal", "deal_company", "company", "co", _COMPANY)


def _history(row: Row) -> StageChange:
    return StageChange(
        row["id"],
        row["workspace_id"],
        row["deal_id"],
        row["from_stage_id"],
        row["to_stage_id"],
        row["moved_by"],
        row["moved_at"],
    )


class AsyncpgPipelineReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        row = await self._pool.fetchrow(_GET_PIPELINE, workspace_id, pipeline_id)
        return pipeline_to_domain(row) if row else None

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Pipeline]:
        keyset = () if page.after is None else (page.after.created_at, page.after.id)
        rows = await self._pool.fetch(
            _LIST_PIPELINES[bool(keyset)], workspace_id, page.limit + 1, *keyset
        )
        return rows_page(rows, page, pipeline_to_domain, "created_at")

    async def summary(
        self, workspace_id: UUID, pipeline_id: UUID
    ) -> builtins.list[StageSummary] | None:
        rows = await self._pool.fetch(_SUMMARY, workspace_id, pipeline_id)
        if not rows:
            return None  # every pipeline has at least one stage
        result: builtins.list[StageSummary] = []
        for r in rows:
            if not result or result[-1].stage.id != r["id"]:
                stage = Stage(
                    r["id"],
                    r["name"],
                    r["probability"],
                    StageKind(r["kind"]),
                    r["position"],
                    r["created_at"],
                )
                result.append(StageSummary(stage, 0, []))
            current = result[-1]
            count = int(r["deal_count"])
            result[-1] = StageSummary(current.stage, current.deal_count + count, current.totals)
            if r["currency"] is not None:
                current.totals.append(CurrencyTotal(r["currency"], count, int(r["amount"])))
        return result


class AsyncpgDealReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        row = await self._pool.fetchrow(_GET_DEAL, workspace_id, deal_id)
        return deal_to_domain(row) if row else None

    async def list(self, workspace_id: UUID, page: PageRequest, where: DealFilter) -> Page[Deal]:
        args: builtins.list[object] = []
        if page.after is not None:
            args += [page.after.created_at, page.after.id]
        filters = {"pipeline_id": where.pipeline_id, "stage_id": where.stage_id}
        filters["status"] = None if where.status is None else where.status.value  # type: ignore[assignment]
        given = tuple(k for k, v in filters.items() if v is not None)
        args += [filters[k] for k in given]
        if where.tags:
            args.append(list(where.tags))
        query = _list_sql(page.order, page.after is not None, given, bool(where.tags))
        rows = await self._pool.fetch(query, workspace_id, page.limit + 1, *args)
        return rows_page(rows, page, deal_to_domain, "created_at")

    async def history(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[StageChange] | None:
        rows = await fetch_links(self._pool, _HISTORY, workspace_id, deal_id, page)
        return None if rows is None else rows_page(rows, page, _history, "moved_at")

    async def deals_of(
        self, kind: LinkedObject, workspace_id: UUID, other_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Deal]] | None:
        rows = await fetch_links(self._pool, _DEALS_OF[kind], workspace_id, other_id, page)
        return None if rows is None else _linked_page(rows, page, deal_to_domain)

    async def contacts_of(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Contact]] | None:
        rows = await fetch_links(self._pool, _CONTACTS_OF_DEAL, workspace_id, deal_id, page)
        return None if rows is None else _linked_page(rows, page, contact_to_domain)

    async def companies_of(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Company]] | None:
        rows = await fetch_links(self._pool, _COMPANIES_OF_DEAL, workspace_id, deal_id, page)
        return None if rows is None else _linked_page(rows, page, company_to_domain)


def _linked_page(
    rows: list[Any], page: PageRequest, to_domain: Callable[[Any], T]
) -> Page[LinkedTo[T]]:
    return rows_page(
        rows, page, lambda row: LinkedTo(to_domain(row), row["linked_at"]), "linked_at"
    )
