"""Writing outbox events with the records they concern, in one statement (one round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, DateTime, Text, TextClause, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from crm.domain.model.events import DomainEvent
from crm.domain.model.timeline import event_concerns

# One fixed statement whatever the number of events: every column travels as an array, so
# it is compiled and prepared once, and no batch comes near Postgres' limit of bound values.
_EVENT_COLUMNS: dict[str, TypeEngine[Any]] = {
    "id": Uuid(),
    "workspace_id": Uuid(),
    "topic": Text(),
    "aggregate_type": Text(),
    "aggregate_id": Uuid(),
    "actor_id": Uuid(),
    "payload": JSONB(),
    "occurred_at": DateTime(timezone=True),
}
_REF_COLUMNS: dict[str, TypeEngine[Any]] = {
    "workspace_id": Uuid(),
    "record_type": Text(),
    "record_id": Uuid(),
    "occurred_at": DateTime(timezone=True),
    "event_id": Uuid(),
}
_SQL = """
WITH e AS (
    INSERT INTO outbox_event ({events})
    SELECT * FROM unnest({event_arrays})
    RETURNING id
)
INSERT INTO outbox_event_record ({refs})
SELECT {r_refs} FROM unnest({ref_arrays}) AS r({refs}) JOIN e ON e.id = r.event_id
"""
INSERT_EVENTS: TextClause = text(
    _SQL.format(
        events=", ".join(_EVENT_COLUMNS),
        event_arrays=", ".join(f":e_{name}" for name in _EVENT_COLUMNS),
        refs=", ".join(_REF_COLUMNS),
        r_refs=", ".join(f"r.{name}" for name in _REF_COLUMNS),
        ref_arrays=", ".join(f":r_{name}" for name in _REF_COLUMNS),
    )
).bindparams(
    *(bindparam(f"e_{name}", type_=ARRAY(kind)) for name, kind in _EVENT_COLUMNS.items()),
    *(bindparam(f"r_{name}", type_=ARRAY(kind)) for name, kind in _REF_COLUMNS.items()),
)
"""`WITH e AS (INSERT INTO outbox_event ... RETURNING id) INSERT INTO outbox_event_record
... JOIN e`: the events and the records each concerns (their timeline rows) together."""


def event_params(events: Sequence[DomainEvent]) -> dict[str, list[Any]]:
    """The arrays `INSERT_EVENTS` takes: one element per event, one per record it concerns."""
    params: dict[str, list[Any]] = {f"e_{name}": [] for name in _EVENT_COLUMNS}
    params |= {f"r_{name}": [] for name in _REF_COLUMNS}
    for e in events:
        row = (e.id, e.workspace_id, e.topic, e.aggregate_type, e.aggregate_id, e.actor_id)
        for name, value in zip(_EVENT_COLUMNS, (*row, e.payload, e.occurred_at), strict=True):
            params[f"e_{name}"].append(value)
        for kind, record_id in event_concerns(e):
            ref = (e.workspace_id, kind, record_id, e.occurred_at, e.id)
            for name, part in zip(_REF_COLUMNS, ref, strict=True):
                params[f"r_{name}"].append(part)
    return params
