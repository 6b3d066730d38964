"""Companies and contact-company links in the unit of work (SQLAlchemy Core, explicit mapping)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.mapping import company_to_domain, company_to_row
from crm.domain.errors import CompanyDomainTaken, VersionConflict
from crm.domain.model.company import Company, CompanyLink

_co, _l = t.company.c, t.contact_company.c
_DOMAIN_UNIQUE = "uq_company_workspace_id_domain"
# Built once: each execution only binds values (see repositories.py).
_INSERT_COMPANY = (
    pg_insert(t.company)
    .on_conflict_do_nothing(index_elements=[_co.workspace_id, _co.domain])
    .returning(_co.id)
)
_UPDATE_COMPANY = (
    update(t.company)
    .where(_co.id == bindparam("match_id"), _co.version == bindparam("match_version"))
    .returning(_co.id)
)
_DELETE_COMPANY = delete(t.company).where(_co.id == bindparam("match_id"))
_DOMAIN_HOLDER = select(_co.id).where(
    _co.workspace_id == bindparam("workspace_id"),
    _co.domain == bindparam("domain"),
    _co.id != bindparam("company_id"),
)
_upsert = pg_insert(t.contact_company)
_WRITE_LINK = _upsert.on_conflict_do_update(
    index_elements=[_l.workspace_id, _l.contact_id, _l.company_id],
    set_={"is_primary": _upsert.excluded.is_primary},
)
_DELETE_LINK = delete(t.contact_company).where(
    _l.workspace_id == bindparam("w"),
    _l.contact_id == bindparam("ct"),
    _l.company_id == bindparam("co"),
)


class SqlCompanyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, company: Company) -> None:
        inserted = await self._conn.execute(_INSERT_COMPANY, company_to_row(company))
        if inserted.one_or_none() is None:
            # Only the domain can conflict (ids are new).
            domain = company.domain or ""
            raise CompanyDomainTaken.held_by(domain, await self._holder(company))

    async def get(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        # KEY SHARE: a link may be made to it in this unit of work; a delete waits for it.
        return await self._one(workspace_id, company_id, key_share=True)

    async def get_for_update(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        return await self._one(workspace_id, company_id, key_share=False)

    async def save(self, company: Company, expected_version: int) -> None:
        if company.domain is not None:
            holder = await self._holder(company)
            if holder is not None:
                raise CompanyDomainTaken.held_by(company.domain, holder)
        values = {**company_to_row(company), "match_id": company.id}
        values["match_version"] = expected_version
        try:
            updated = (await self._conn.execute(_UPDATE_COMPANY, values)).one_or_none()
        except IntegrityError as e:
            # A concurrent writer took the domain between the check and the update.
            if company.domain is None or _DOMAIN_UNIQUE not in str(e.orig):
                raise
            raise CompanyDomainTaken.held_by(company.domain, None) from e
        if updated is None:
            raise VersionConflict("The company was changed by another writer.")

    async def remove(self, company: Company) -> None:
        # ON DELETE CASCADE removes its contact_company rows; contacts stay.
        await self._conn.execute(_DELETE_COMPANY, {"match_id": company.id})

    async def _one(
        self, workspace_id: UUID, company_id: UUID, *, key_share: bool
    ) -> Company | None:
        query = (
            select(t.company)
            .where(_co.workspace_id == workspace_id, _co.id == company_id)
            .with_for_update(key_share=key_share, read=key_share)
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return company_to_domain(row) if row else None

    async def _holder(self, company: Company) -> UUID | None:
        params = {
            "workspace_id": company.workspace_id,
            "domain": company.domain,
            "company_id": company.id,
        }
        found: UUID | None = (await self._conn.execute(_DOMAIN_HOLDER, params)).scalar()
        return found


class SqlCompanyLinkRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def of_contact(self, workspace_id: UUID, contact_id: UUID) -> list[CompanyLink]:
        query = (
            select(t.contact_company)
            .where(_l.workspace_id == workspace_id, _l.contact_id == contact_id)
            .order_by(_l.created_at, _l.company_id)
        )
        rows = (await self._conn.execute(query)).mappings()
        return [CompanyLink(**dict(r)) for r in rows]

    async def contact_ids_of(self, workspace_id: UUID, company_id: UUID) -> list[UUID]:
        query = (
            select(_l.contact_id)
            .where(_l.workspace_id == workspace_id, _l.company_id == company_id)
            .order_by(_l.contact_id)
        )
        return list((await self._conn.execute(query)).scalars())

    async def write(self, links: Sequence[CompanyLink]) -> None:
        # One statement per link, in order: the one-primary index is checked per statement.
        for link in links:
            await self._conn.execute(
                _WRITE_LINK,
                {
                    "workspace_id": link.workspace_id,
                    "contact_id": link.contact_id,
                    "company_id": link.company_id,
                    "is_primary": link.is_primary,
                    "created_at": link.created_at,
                },
            )

    async def remove(self, link: CompanyLink) -> None:
        params = {"w": link.workspace_id, "ct": link.contact_id, "co": link.company_id}
        await self._conn.execute(_DELETE_LINK, params)
