"""Merge moves and tombstones in the unit of work, and the tombstone read on the asyncpg pool.

Every move is one statement whatever the number of rows: a link table's rows are deleted and
re-inserted for the survivor in one data-modifying CTE, `ON CONFLICT` collapsing the ones the
survivor already had; notes and tasks are one UPDATE each."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Table, TextClause, Update, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.deal import LinkedObject
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import RecordType

# `xmax = 0` holds only for rows the INSERT itself created (not for conflicting rows updated).
_MOVE_CONTACT_COMPANIES = text(
    """
    WITH gone AS (
        DELETE FROM contact_company
        WHERE workspace_id = :workspace_id AND contact_id = :source_id
        RETURNING company_id, is_primary, created_at
    )
    INSERT INTO contact_company AS l (workspace_id, contact_id, company_id, is_primary, created_at)
    SELECT CAST(:workspace_id AS uuid), CAST(:survivor_id AS uuid), company_id,
           is_primary AND NOT EXISTS (
               SELECT 1 FROM contact_company p
               WHERE p.workspace_id = :workspace_id AND p.contact_id = :survivor_id
                 AND p.is_primary
           ),
           created_at
    FROM gone
    ON CONFLICT (workspace_id, contact_id, company_id)
        DO UPDATE SET is_primary = true WHERE excluded.is_primary
    RETURNING xmax = 0
    """
)
# A contact whose primary company was the source keeps its primary at the survivor; the
# source's row is already deleted by this statement, so the one-primary index holds.
_MOVE_COMPANY_CONTACTS = text(
    """
    WITH gone AS (
        DELETE FROM contact_company
        WHERE workspace_id = :workspace_id AND company_id = :source_id
        RETURNING contact_id, is_primary, created_at
    )
    INSERT INTO contact_company AS l (workspace_id, contact_id, company_id, is_primary, created_at)
    SELECT CAST(:workspace_id AS uuid), contact_id, CAST(:survivor_id AS uuid), is_primary,
           created_at
    FROM gone
    ON CONFLICT (workspace_id, contact_id, company_id)
        DO UPDATE SET is_primary = true WHERE excluded.is_primary
    RETURNING xmax = 0
    """
)


def _move_deal_links(other: str) -> TextClause:
    # `other` is one of two constants (contact, company), never input.
    return text(
        f"""
        WITH gone AS (
            DELETE FROM deal_{other}
            WHERE workspace_id = :workspace_id AND {other}_id = :source_id
            RETURNING deal_id, created_at
        )
        INSERT INTO deal_{other} (workspace_id, deal_id, {other}_id, created_at)
        SELECT CAST(:workspace_id AS uuid), deal_id, CAST(:survivor_id AS uuid), created_at
        FROM gone
        ON CONFLICT DO NOTHING
        RETURNING deal_id
        """  # noqa: S608
    )


_MOVE_DEAL_LINKS = {kind: _move_deal_links(kind.value) for kind in LinkedObject}


def _repoint(table: Table) -> Update:
    c = table.c
    return (
        update(table)
        .where(
            c.workspace_id == bindparam("w"),
            c.record_type == bindparam("kind"),
            c.record_id == bindparam("source_id"),
        )
        .values(record_id=bindparam("survivor_id"), updated_at=bindparam("now"))
        .values(version=c.version + 1)
    )


_MOVE_NOTES, _MOVE_TASKS = _repoint(t.note), _repoint(t.task)
_m = t.merged_record.c
_FOLLOW = (
    update(t.merged_record)
    .where(
        _m.workspace_id == bindparam("w"),
        _m.record_type == bindparam("kind"),
        _m.merged_into == bindparam("source_id"),
    )
    .values(merged_into=bindparam("survivor_id"))
)
_BURY = insert(t.merged_record)
_MERGED_INTO = select(_m.merged_into).where(
    _m.workspace_id == bindparam("w"),
    _m.record_type == bindparam("kind"),
    _m.id == bindparam("record_id"),
)
_READ_MERGED_INTO = (
    "SELECT merged_into FROM merged_record WHERE workspace_id = $1 AND record_type = $2 AND id = $3"
)


class SqlMergeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def move_contact_companies(
        self, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        return await self._inserted(_MOVE_CONTACT_COMPANIES, workspace_id, source_id, survivor_id)

    async def move_company_contacts(
        self, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        return await self._inserted(_MOVE_COMPANY_CONTACTS, workspace_id, source_id, survivor_id)

    async def move_deal_links(
        self, kind: LinkedObject, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        params = {"workspace_id": workspace_id, "source_id": source_id, "survivor_id": survivor_id}
        return len((await self._conn.execute(_MOVE_DEAL_LINKS[kind], params)).all())

    async def move_notes(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        source_id: UUID,
        survivor_id: UUID,
        now: datetime,
    ) -> int:
        params = _repoint_params(workspace_id, record_type, source_id, survivor_id)
        return (await self._conn.execute(_MOVE_NOTES, {**params, "now": now})).rowcount

    async def move_tasks(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        source_id: UUID,
        survivor_id: UUID,
        now: datetime,
    ) -> int:
        params = _repoint_params(workspace_id, record_type, source_id, survivor_id)
        return (await self._conn.execute(_MOVE_TASKS, {**params, "now": now})).rowcount

    async def bury(self, tombstone: Tombstone) -> None:
        params = _repoint_params(
            tombstone.workspace_id, tombstone.record_type, tombstone.id, tombstone.merged_into
        )
        await self._conn.execute(_FOLLOW, params)
        row = {
            "workspace_id": tombstone.workspace_id,
            "record_type": tombstone.record_type.value,
            "id": tombstone.id,
            "merged_into": tombstone.merged_into,
            "merged_by": tombstone.merged_by,
            "merged_at": tombstone.merged_at,
        }
        await self._conn.execute(_BURY, row)

    async def merged_into(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> UUID | None:
        params = {"w": workspace_id, "kind": record_type.value, "record_id": record_id}
        found: UUID | None = (await self._conn.execute(_MERGED_INTO, params)).scalar()
        return found

    async def _inserted(
        self, statement: TextClause, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        params = {"workspace_id": workspace_id, "source_id": source_id, "survivor_id": survivor_id}
        return sum(1 for (inserted,) in await self._conn.execute(statement, params) if inserted)


def _repoint_params(
    workspace_id: UUID, record_type: RecordType, source_id: UUID, survivor_id: UUID
) -> dict[str, object]:
    return {
        "w": workspace_id,
        "kind": record_type.value,
        "source_id": source_id,
        "survivor_id": survivor_id,
    }


class AsyncpgTombstoneReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def merged_into(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> UUID | None:
        row = await self._pool.fetchrow(
            _READ_MERGED_INTO, workspace_id, record_type.value, record_id
        )
        return None if row is None else UUID(str(row["merged_into"]))
