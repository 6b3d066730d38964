"""Batch writes in PostgreSQL (companies, deals; contacts in `contact_batch`): one locking
read per batch, a multi-row insert and pipelined updates, so a batch costs a handful of round
trips whatever its size; a unique value a concurrent writer took is the domain's conflict."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.contact_batch import (
    CUSTOM_PLANS,
    TEXTS,
    UUIDS,
    SqlContactBatchStore,
    external_id_taken,
    refused,
    row_updates,
)
from crm.adapters.postgres.deals import deal_to_domain, deal_to_row
from crm.adapters.postgres.mapping import company_to_domain, company_to_row
from crm.domain.errors import CompanyDomainTaken, DomainError
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.ports.batch import BatchStore

_co, _d = t.company.c, t.deal.c


def _lock_by(table: Any, key_column: Any) -> Any:
    c = table.c
    return (
        select(table)
        .where(
            c.workspace_id == bindparam("ws"),
            or_(
                c.id == any_(bindparam("ids", type_=UUIDS)),
                key_column == any_(bindparam("values", type_=TEXTS)),
            ),
        )
        .order_by(c.id)
        .with_for_update()
    )


_LOCK_COMPANIES = _lock_by(t.company, _co.domain)
_INSERT_COMPANIES = pg_insert(t.company).on_conflict_do_nothing().returning(_co.id)
_UPDATE_COMPANIES = update(t.company).where(
    _co.workspace_id == bindparam("match_ws"), _co.id == bindparam("match_id")
)
_LOCK_DEALS = _lock_by(t.deal, _d.external_id)
_INSERT_DEALS = pg_insert(t.deal).on_conflict_do_nothing().returning(_d.id)
_UPDATE_DEALS = update(t.deal).where(
    _d.workspace_id == bindparam("match_ws"), _d.id == bindparam("match_id")
)
_MEMBERS = select(t.member.c.user_id).where(
    t.member.c.workspace_id == bindparam("ws"),
    t.member.c.user_id == any_(bindparam("ids", type_=UUIDS)),
)


class SqlCompanyBatchStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock(
        self, workspace_id: UUID, ids: Collection[UUID], keys: Mapping[str, Collection[str]]
    ) -> list[Company]:
        params = {"ws": workspace_id, "ids": list(ids), "values": list(keys.get("domain", ()))}
        await self._conn.execute(CUSTOM_PLANS)
        rows = (await self._conn.execute(_LOCK_COMPANIES, params)).mappings()
        return [company_to_domain(r) for r in rows]

    async def add_many(self, records: Sequence[Company]) -> None:
        taken = _domain_taken(records)
        with refused(taken):
            result = await self._conn.execute(
                _INSERT_COMPANIES, [company_to_row(c) for c in records]
            )
        if len(set(result.scalars())) < len(records):  # only a domain can conflict
            raise taken

    async def save_many(self, records: Sequence[Company]) -> None:
        with refused(_domain_taken(records)):
            await self._conn.execute(
                _UPDATE_COMPANIES, row_updates([company_to_row(c) for c in records])
            )


def _domain_taken(records: Sequence[Company]) -> DomainError:
    domains = [r.domain for r in records if r.domain is not None]
    return CompanyDomainTaken.held_by(domains[0] if len(domains) == 1 else "a domain", None)


class SqlDealBatchStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock(
        self, workspace_id: UUID, ids: Collection[UUID], keys: Mapping[str, Collection[str]]
    ) -> list[Deal]:
        values = list(keys.get("external_id", ()))
        params = {"ws": workspace_id, "ids": list(ids), "values": values}
        await self._conn.execute(CUSTOM_PLANS)
        rows = (await self._conn.execute(_LOCK_DEALS, params)).mappings()
        return [deal_to_domain(r) for r in rows]

    async def add_many(self, records: Sequence[Deal]) -> None:
        taken = external_id_taken("deal", records)
        with refused(taken):
            result = await self._conn.execute(_INSERT_DEALS, [deal_to_row(d) for d in records])
        if len(set(result.scalars())) < len(records):  # only the external id can conflict
            raise taken

    async def save_many(self, records: Sequence[Deal]) -> None:
        with refused(external_id_taken("deal", records)):
            await self._conn.execute(_UPDATE_DEALS, row_updates([deal_to_row(d) for d in records]))


class SqlBatchStores:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.contacts: BatchStore[Contact] = SqlContactBatchStore(conn)
        self.companies: BatchStore[Company] = SqlCompanyBatchStore(conn)
        self.deals: BatchStore[Deal] = SqlDealBatchStore(conn)

    async def members_among(self, workspace_id: UUID, user_ids: Collection[UUID]) -> set[UUID]:
        params = {"ws": workspace_id, "ids": list(user_ids)}
        return set((await self._conn.execute(_MEMBERS, params)).scalars())
