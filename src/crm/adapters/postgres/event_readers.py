"""Timelines and the audit log read from the outbox on the read pool: one statement each."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import ActorKind
from crm.domain.model.timeline import (
    Actor,
    AuditFilter,
    EventPage,
    EventPosition,
    MergedAway,
    RecordedEvent,
)

_EVENT = (
    "e.id, e.topic, e.occurred_at, e.actor_id, k.id IS NOT NULL AS by_key, e.aggregate_type, "
    "e.aggregate_id, e.payload"
)
# Whether the record exists (or was merged away, and into what) LEFT JOIN LATERAL its page,
# so an unknown record is told apart from a record without events in the same round trip.
# The page merges one keyset range scan per id (the record and the ids merged into it, each
# at most `limit` rows of the primary key) instead of sorting every event the record had.
_TIMELINE = """
SELECT o.found, o.merged_into, {event}
FROM (SELECT
    (SELECT true FROM {table} WHERE workspace_id = $1 AND id = $2) AS found,
    (SELECT merged_into FROM merged_record
     WHERE workspace_id = $1 AND record_type = '{table}' AND id = $2) AS merged_into
) o
LEFT JOIN LATERAL (
    SELECT DISTINCT p.occurred_at, p.event_id
    FROM unnest(array_prepend($2::uuid, ARRAY(
        SELECT m.id FROM merged_record m
        WHERE m.workspace_id = $1 AND m.record_type = '{table}' AND m.merged_into = $2
    ))) AS x(id)
    CROSS JOIN LATERAL (
        SELECT r.occurred_at, r.event_id FROM outbox_event_record r
        WHERE r.workspace_id = $1 AND r.record_type = '{table}' AND r.record_id = x.id{keyset}
        ORDER BY r.occurred_at DESC, r.event_id DESC LIMIT $3
    ) p
    ORDER BY p.occurred_at DESC, p.event_id DESC LIMIT $3
) page ON o.found
LEFT JOIN outbox_event e ON e.id = page.event_id AND e.workspace_id = $1
LEFT JOIN api_key k ON k.id = e.actor_id
ORDER BY page.occurred_at DESC, page.event_id DESC
"""
_TIMELINES = {
    (kind, keyset): _TIMELINE.format(
        event=_EVENT,
        table=kind.value,
        keyset=" AND (r.occurred_at, r.event_id) < ($4, $5)" if keyset else "",
    )
    for kind in RecordType
    for keyset in (False, True)
}


class AsyncpgEventReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def timeline(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: EventPosition | None,
    ) -> EventPage | MergedAway | None:
        """A record's events (and its merged records'), newest first; MergedAway for a merged
        record's id, None when there is no such record in the workspace."""
        keyset = () if after is None else (after.occurred_at, after.id)
        query = _TIMELINES[(record_type, bool(keyset))]
        rows = await self._pool.fetch(query, workspace_id, record_id, limit + 1, *keyset)
        if not rows[0]["found"]:
            into = rows[0]["merged_into"]
            return None if into is None else MergedAway(into)
        return _page([r for r in rows if r["id"] is not None], limit)

    async def audit(
        self, workspace_id: UUID, filters: AuditFilter, limit: int, after: EventPosition | None
    ) -> EventPage:
        """The workspace's events matching `filters`, newest first."""
        query, args = audit_query(workspace_id, filters, limit + 1, after)
        return _page(await self._pool.fetch(query, *args), limit)


def audit_query(
    workspace_id: UUID, f: AuditFilter, limit: int, after: EventPosition | None
) -> tuple[str, list[Any]]:
    """The statement and its values. Without a record filter it walks the index (workspace_id,
    occurred_at, id) backwards; with one, the record's timeline key."""
    args: list[Any] = [workspace_id, limit]

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    source = "outbox_event e"
    at, id_ = "e.occurred_at", "e.id"
    where = ["e.workspace_id = $1"]
    if f.record is not None:
        source = "outbox_event_record r JOIN outbox_event e ON e.id = r.event_id"
        at, id_ = "r.occurred_at", "r.event_id"
        where += ["r.workspace_id = $1", f"r.record_type = {bind(f.record[0])}"]
        where.append(f"r.record_id = {bind(f.record[1])}")
    where += _filters(f, at, bind)
    if after is not None:
        where.append(f"({at}, {id_}) < ({bind(after.occurred_at)}, {bind(after.id)})")
    query = (
        f"SELECT {_EVENT} FROM {source} LEFT JOIN api_key k ON k.id = e.actor_id"  # noqa: S608
        f" WHERE {' AND '.join(where)} ORDER BY {at} DESC, {id_} DESC LIMIT $2"
    )
    return query, args


def _filters(f: AuditFilter, at: str, bind: Any) -> list[str]:
    where = []
    if f.actor_id is not None:
        where.append(f"e.actor_id = {bind(f.actor_id)}")
    if f.topic is not None:
        exact = not f.topic.endswith(".")
        where.append(
            f"e.topic = {bind(f.topic)}" if exact else f"starts_with(e.topic, {bind(f.topic)})"
        )
    if f.since is not None:
        where.append(f"{at} >= {bind(f.since)}")
    if f.until is not None:
        where.append(f"{at} < {bind(f.until)}")
    return where


def _page(rows: list[Any], limit: int) -> EventPage:
    items = [_recorded(r) for r in rows[:limit]]
    more = len(rows) > limit
    return EventPage(items, EventPosition(items[-1].occurred_at, items[-1].id) if more else None)


def _recorded(row: Any) -> RecordedEvent:
    actor = None
    if row["actor_id"] is not None:
        actor = Actor(row["actor_id"], ActorKind.API_KEY if row["by_key"] else ActorKind.USER)
    return RecordedEvent(
        id=row["id"],
        topic=row["topic"],
        occurred_at=row["occurred_at"],
        actor=actor,
        aggregate_type=row["aggregate_type"],
        aggregate_id=row["aggregate_id"],
        payload=row["payload"],
    )
