"""The relay's view of the outbox and the consumers' processed-event records, in Postgres."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, DateTime, Text, TextClause, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.timeline import concerns

# SKIP LOCKED: concurrent relays split the backlog instead of queueing behind each other's
# locks, and a row one of them holds is never sent by another meanwhile.
_CLAIM = text(
    "SELECT id, workspace_id, topic, aggregate_type, aggregate_id, actor_id, occurred_at, payload "
    "FROM outbox_event WHERE published_at IS NULL "
    "ORDER BY occurred_at, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_MARK = text("UPDATE outbox_event SET published_at = :at WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(Uuid()))
)
# No ORDER BY: old rows sit at the front of the table, so the scan stops early; no index on
# published_at is kept for this daily job (it would cost every write).
_DOOMED = text(
    "SELECT id, workspace_id, topic, aggregate_type, aggregate_id, actor_id, occurred_at, payload "
    "FROM outbox_event WHERE published_at IS NOT NULL AND occurred_at < :before "
    "LIMIT :limit FOR UPDATE SKIP LOCKED"
)
# Their timeline rows by primary key, found by the same rules that filed them.
_DELETE_REFS: TextClause = text(
    "DELETE FROM outbox_event_record r USING unnest(:ws, :kinds, :ids, :ats, :events) "
    "AS d(workspace_id, record_type, record_id, occurred_at, event_id) "
    "WHERE (r.workspace_id, r.record_type, r.record_id, r.occurred_at, r.event_id) "
    "= (d.workspace_id, d.record_type, d.record_id, d.occurred_at, d.event_id)"
).bindparams(
    bindparam("ws", type_=ARRAY(Uuid())),
    bindparam("kinds", type_=ARRAY(Text())),
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("ats", type_=ARRAY(DateTime(timezone=True))),
    bindparam("events", type_=ARRAY(Uuid())),
)
_DELETE_EVENTS = text("DELETE FROM outbox_event WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(Uuid()))
)

_SEEN = text("SELECT 1 FROM processed_event WHERE handler = :handler AND event_id = :event_id")
_RECORD = text(
    "INSERT INTO processed_event (handler, event_id, processed_at) "
    "VALUES (:handler, :event_id, :at) ON CONFLICT DO NOTHING RETURNING 1"
)
# In id order: two consumers recording overlapping batches wait for each other, never deadlock.
_RECORD_MANY = text(
    "INSERT INTO processed_event (handler, event_id, processed_at) "
    "SELECT :handler, e, :at FROM unnest(:ids) AS e ORDER BY e "
    "ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(bindparam("ids", type_=ARRAY(Uuid())))
_FORGET = text(
    "DELETE FROM processed_event WHERE (handler, event_id) IN (SELECT handler, event_id "
    "FROM processed_event WHERE processed_at < :before LIMIT :limit)"
)


class SqlOutboxDelivery:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim_unpublished(self, limit: int) -> list[PublishedEvent]:
        rows = await self._conn.execute(_CLAIM, {"limit": limit})
        return [_event(row) for row in rows.mappings()]

    async def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        if event_ids:
            await self._conn.execute(_MARK, {"ids": list(event_ids), "at": at})

    async def purge_published(self, before: datetime, limit: int) -> int:
        rows = await self._conn.execute(_DOOMED, {"before": before, "limit": limit})
        events = [_event(row) for row in rows.mappings()]
        if not events:
            return 0
        refs: dict[str, list[Any]] = {k: [] for k in ("ws", "kinds", "ids", "ats", "events")}
        for e in events:
            for kind, record_id in concerns(e.type, e.aggregate_type, e.aggregate_id, e.payload):
                for key, value in zip(
                    refs, (e.workspace_id, kind, record_id, e.occurred_at, e.id), strict=True
                ):
                    refs[key].append(value)
        await self._conn.execute(_DELETE_REFS, refs)
        await self._conn.execute(_DELETE_EVENTS, {"ids": [e.id for e in events]})
        return len(events)


class SqlProcessedEvents:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def seen(self, handler: str, event_id: UUID) -> bool:
        found = await self._conn.execute(_SEEN, {"handler": handler, "event_id": event_id})
        return found.first() is not None

    async def record(self, handler: str, event_id: UUID, at: datetime) -> bool:
        params = {"handler": handler, "event_id": event_id, "at": at}
        inserted = await self._conn.execute(_RECORD, params)
        return inserted.first() is not None

    async def record_many(self, handler: str, event_ids: Sequence[UUID], at: datetime) -> set[UUID]:
        params = {"handler": handler, "ids": sorted(set(event_ids)), "at": at}
        inserted = await self._conn.execute(_RECORD_MANY, params)
        return {row[0] for row in inserted}

    async def purge(self, before: datetime, limit: int) -> int:
        deleted = await self._conn.execute(_FORGET, {"before": before, "limit": limit})
        return int(deleted.rowcount)


def _event(row: Any) -> PublishedEvent:
    return PublishedEvent(
        id=row["id"],
        type=row["topic"],
        workspace_id=row["workspace_id"],
        aggregate_type=row["aggregate_type"],
        aggregate_id=row["aggregate_id"],
        actor_id=row["actor_id"],
        occurred_at=row["occurred_at"],
        payload=row["payload"],
    )
