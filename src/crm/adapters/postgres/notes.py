"""Notes in the unit of work (SQLAlchemy Core) and their reads on the asyncpg pool."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.readers import ReadPool
from crm.domain.errors import VersionConflict
from crm.domain.model.note import Note, NotePage, NotePosition, RecordType

_n = t.note.c
_COLUMNS = (
    "id, workspace_id, record_type, record_id, text, author_id, pinned, created_at, "
    "updated_at, version"
)
_UPDATE = (
    update(t.note)
    .where(_n.id == bindparam("match_id"), _n.version == bindparam("match_version"))
    .returning(_n.id)
)


def note_to_row(n: Note) -> dict[str, Any]:
    return {
        "id": n.id,
        "workspace_id": n.workspace_id,
        "record_type": n.record_type.value,
        "record_id": n.record_id,
        "text": n.text,
        "author_id": n.author_id,
        "pinned": n.pinned,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
        "version": n.version,
    }


def note_to_domain(r: Any) -> Note:
    return Note(
        id=r["id"],
        workspace_id=r["workspace_id"],
        record_type=RecordType(r["record_type"]),
        record_id=r["record_id"],
        text=r["text"],
        author_id=r["author_id"],
        pinned=r["pinned"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


class SqlNoteRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, note: Note) -> None:
        await self._conn.execute(t.note.insert(), note_to_row(note))

    async def get_for_update(self, workspace_id: UUID, note_id: UUID) -> Note | None:
        query = (
            select(t.note)
            .where(_n.workspace_id == workspace_id, _n.id == note_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return note_to_domain(row) if row else None

    async def save(self, note: Note, expected_version: int) -> None:
        values = {**note_to_row(note), "match_id": note.id, "match_version": expected_version}
        if (await self._conn.execute(_UPDATE, values)).one_or_none() is None:
            raise VersionConflict("The note was changed by another writer.")

    async def remove(self, note: Note) -> None:
        await self._conn.execute(delete(t.note).where(_n.id == note.id))

    async def remove_of_record(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> None:
        await self._conn.execute(
            delete(t.note).where(
                _n.workspace_id == workspace_id,
                _n.record_type == record_type.value,
                _n.record_id == record_id,
            )
        )


# Assembled from constants only; values are bound.
_GET = f"SELECT {_COLUMNS} FROM note WHERE workspace_id = $1 AND id = $2"  # noqa: S608


def _of_record_sql(table: str, keyset: bool) -> str:
    """`$1` workspace, `$2` record id, `$3` record type, `$4` limit, `$5..$7` the keyset;
    no row at all when the record does not exist, one all-null row when it has no notes."""
    after = " AND (n.pinned, n.created_at, n.id) < ($5, $6, $7)" if keyset else ""
    return (
        f"SELECT x.* FROM {table} o LEFT JOIN LATERAL ("  # noqa: S608
        f" SELECT {', '.join('n.' + c.strip() for c in _COLUMNS.split(','))} FROM note n"
        " WHERE n.workspace_id = o.workspace_id AND n.record_type = $3 AND n.record_id = o.id"
        f"{after} ORDER BY n.pinned DESC, n.created_at DESC, n.id DESC LIMIT $4"
        ") x ON true WHERE o.workspace_id = $1 AND o.id = $2"
        " ORDER BY x.pinned DESC, x.created_at DESC, x.id DESC"
    )


_OF_RECORD = {(r, k): _of_record_sql(r.value, k) for r in RecordType for k in (False, True)}


class AsyncpgNoteReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, note_id: UUID) -> Note | None:
        row = await self._pool.fetchrow(_GET, workspace_id, note_id)
        return note_to_domain(row) if row else None

    async def of_record(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: NotePosition | None,
    ) -> NotePage | None:
        keyset = () if after is None else (after.pinned, after.created_at, after.id)
        query = _OF_RECORD[(record_type, bool(keyset))]
        rows = await self._pool.fetch(
            query, workspace_id, record_id, record_type.value, limit + 1, *keyset
        )
        if not rows:
            return None
        found = [note_to_domain(r) for r in rows if r["id"] is not None]
        items = found[:limit]
        more = len(found) > limit
        return NotePage(items, NotePosition.of(items[-1]) if more else None)
