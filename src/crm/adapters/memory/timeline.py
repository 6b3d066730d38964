"""The event reader over the memory store's outbox, ordered like the Postgres one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.domain.model.events import DomainEvent
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import ActorKind
from crm.domain.model.timeline import (
    Actor,
    AuditFilter,
    EventPage,
    EventPosition,
    MergedAway,
    RecordedEvent,
    event_concerns,
)


class InMemoryEventReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def timeline(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: EventPosition | None,
    ) -> EventPage | MergedAway | None:
        state = self._store.state
        records: dict[RecordType, dict[UUID, object]] = {
            RecordType.CONTACT: state.contacts,  # type: ignore[dict-item]
            RecordType.COMPANY: state.companies,  # type: ignore[dict-item]
            RecordType.DEAL: state.deals,  # type: ignore[dict-item]
        }
        record = records[record_type].get(record_id)
        if record is None or getattr(record, "workspace_id", None) != workspace_id:
            gone = state.tombstones.get((workspace_id, record_type, record_id))
            return None if gone is None else MergedAway(gone.merged_into)
        ids = {record_id} | {
            t.id
            for t in state.tombstones.values()
            if (t.workspace_id, t.record_type, t.merged_into)
            == (workspace_id, record_type, record_id)
        }
        wanted = {(record_type.value, id_) for id_ in ids}
        return _page(
            state,
            workspace_id,
            lambda e: bool(wanted.intersection(event_concerns(e))),
            limit,
            after,
        )

    async def audit(
        self, workspace_id: UUID, filters: AuditFilter, limit: int, after: EventPosition | None
    ) -> EventPage:
        return _page(self._store.state, workspace_id, _matcher(filters), limit, after)


def _matcher(f: AuditFilter) -> Callable[[DomainEvent], bool]:
    def matches(e: DomainEvent) -> bool:
        return (
            (f.actor_id is None or e.actor_id == f.actor_id)
            and f.matches_topic(e.topic)
            and (f.record is None or f.record in event_concerns(e))
            and (f.since is None or e.occurred_at >= f.since)
            and (f.until is None or e.occurred_at < f.until)
        )

    return matches


def _page(
    state: MemoryState,
    workspace_id: UUID,
    keep: Callable[[DomainEvent], bool],
    limit: int,
    after: EventPosition | None,
) -> EventPage:
    rows = sorted(
        (e for e in state.outbox if e.workspace_id == workspace_id and keep(e)),
        key=lambda e: (e.occurred_at, e.id),
        reverse=True,
    )
    if after is not None:
        rows = [e for e in rows if (e.occurred_at, e.id) < (after.occurred_at, after.id)]
    items = [_recorded(e, state.api_keys) for e in rows[:limit]]
    more = len(rows) > limit
    return EventPage(items, EventPosition(items[-1].occurred_at, items[-1].id) if more else None)


def _recorded(e: DomainEvent, api_keys: Iterable[UUID]) -> RecordedEvent:
    actor = None
    if e.actor_id is not None:
        kind = ActorKind.API_KEY if e.actor_id in api_keys else ActorKind.USER
        actor = Actor(e.actor_id, kind)
    return RecordedEvent(
        id=e.id,
        topic=e.topic,
        occurred_at=e.occurred_at,
        actor=actor,
        aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id,
        payload=_json_copy(e.payload),
    )


def _json_copy(payload: object) -> dict[str, Any]:
    """The payload as Postgres hands it back from jsonb (and never the state's own dict)."""
    copied: dict[str, Any] = json.loads(json.dumps(payload, default=str))
    return copied
