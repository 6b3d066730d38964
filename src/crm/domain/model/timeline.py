"""Timeline and audit: which records each recorded event concerns, and how a recorded event
reads back (who did it, which fields changed, the rest of its payload).

Every event concerns its own aggregate; the table `RULES` names, per topic, the payload keys
that point at other records (a note's record, a linked company, a merged source ...). A new
event type without a row here fails `tests/unit/test_timeline_concerns.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import InvalidCursor
from crm.domain.model.events import DomainEvent
from crm.domain.model.permissions import ActorKind
from crm.domain.pagination import cursor_time, pack_cursor, unpack_cursor

RecordRef = tuple[str, UUID]
AUDIT_RECORD_TYPES = (
    "contact",
    "company",
    "deal",
    "note",
    "task",
    "pipeline",
    "member",
    "invitation",
    "custom_field",
    "tag",
    "webhook_subscription",
    "chat",
)
"""The record types the audit log filters on (every aggregate that records events)."""


@dataclass(frozen=True, slots=True)
class Ref:
    """`payload[key]` names a record (or a list of them) of type `record_type`."""

    record_type: str
    key: str


@dataclass(frozen=True, slots=True)
class TypedRef:
    """`payload[type_key]` names the record type and `payload[id_key]` its id (either may be
    null: a task about no record)."""

    type_key: str
    id_key: str


Rule = tuple[Ref | TypedRef, ...]
_ON_RECORD = (TypedRef("record_type", "record_id"),)

RULES: dict[str, Rule] = {
    "contact.created": (),
    "contact.updated": (),
    "contact.deleted": (),
    "contact.company_linked": (Ref("company", "company_id"),),
    "contact.company_unlinked": (Ref("company", "company_id"),),
    "contact.primary_company_changed": (
        Ref("company", "old_company_id"),
        Ref("company", "new_company_id"),
    ),
    "contact.merged": (Ref("contact", "source_id"),),
    "chat.message_received": (Ref("contact", "contact_id"),),
    "chat.message_sent": (Ref("contact", "contact_id"),),
    "company.created": (),
    "company.updated": (),
    "company.deleted": (Ref("contact", "contact_ids"),),
    "company.merged": (Ref("company", "source_id"),),
    "member.joined": (),
    "member.role_changed": (),
    "member.removed": (),
    "invitation.created": (),
    "note.added": _ON_RECORD,
    "note.updated": _ON_RECORD,
    "note.deleted": _ON_RECORD,
    "task.created": _ON_RECORD,
    "task.updated": _ON_RECORD,
    "task.completed": _ON_RECORD,
    "task.reopened": _ON_RECORD,
    "task.deleted": _ON_RECORD,
    "pipeline.created": (),
    "pipeline.updated": (),
    "pipeline.deleted": (),
    "deal.created": (),
    "deal.updated": (),
    "deal.moved": (),
    "deal.deleted": (),
    "deal.linked": (TypedRef("object_type", "object_id"),),
    "deal.unlinked": (TypedRef("object_type", "object_id"),),
    "custom_field.created": (),
    "custom_field.updated": (),
    "tag.created": (),
    "tag.updated": (),
    "tag.deleted": (),
    "webhook_subscription.disabled": (),
}
"""Per topic, the other records an event concerns besides its aggregate."""


def concerns(
    topic: str, aggregate_type: str, aggregate_id: UUID, payload: Mapping[str, Any]
) -> list[RecordRef]:
    """The (record_type, record_id) pairs an event concerns: its aggregate first, then the
    records its payload names by `RULES`, each once. Unknown topics concern their aggregate."""
    found: list[RecordRef] = [(aggregate_type, aggregate_id)]
    for ref in RULES.get(topic, ()):
        for pair in _refs(ref, payload):
            if pair not in found:
                found.append(pair)
    return found


def event_concerns(event: DomainEvent) -> list[RecordRef]:
    return concerns(event.topic, event.aggregate_type, event.aggregate_id, event.payload)


def _refs(ref: Ref | TypedRef, payload: Mapping[str, Any]) -> list[RecordRef]:
    if isinstance(ref, TypedRef):
        kind, value = payload.get(ref.type_key), payload.get(ref.id_key)
        return [(kind, id_) for id_ in _ids(value)] if isinstance(kind, str) else []
    return [(ref.record_type, id_) for id_ in _ids(payload.get(ref.key))]


def _ids(value: Any) -> list[UUID]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for v in values:
        try:
            out.append(v if isinstance(v, UUID) else UUID(str(v)))
        except ValueError:
            continue  # null or not an id: names no record
    return out


@dataclass(frozen=True, slots=True)
class Actor:
    id: UUID
    kind: ActorKind


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the outbox keeps it, read back for a timeline or the audit log."""

    id: UUID
    topic: str
    occurred_at: datetime
    actor: Actor | None
    aggregate_type: str
    aggregate_id: UUID
    payload: Mapping[str, Any]

    @property
    def changes(self) -> dict[str, Any] | None:
        """Field → {old, new} when the event records field changes."""
        found = self.payload.get("changes")
        return found if isinstance(found, dict) and _all_old_new(found) else None

    @property
    def data(self) -> dict[str, Any]:
        """The payload without `changes` (when they are field changes)."""
        if self.changes is None:
            return dict(self.payload)
        return {k: v for k, v in self.payload.items() if k != "changes"}


def _all_old_new(changes: Mapping[str, Any]) -> bool:
    return all(isinstance(c, dict) and {"old", "new"} <= c.keys() for c in changes.values())


@dataclass(frozen=True, slots=True)
class EventPosition:
    """Where a page of events ends, newest first: the last one's (occurred_at, id)."""

    occurred_at: datetime
    id: UUID

    def encode(self) -> str:
        return pack_cursor("event", self.occurred_at.isoformat(), str(self.id))

    @classmethod
    def decode(cls, cursor: str) -> EventPosition:
        def parse(parts: list[Any]) -> tuple[str, EventPosition]:
            kind, occurred_at, id_ = parts
            return kind, cls(cursor_time(occurred_at), UUID(id_))

        kind, position = unpack_cursor(cursor, parse)
        if kind != "event" or position.occurred_at.tzinfo is None:
            raise InvalidCursor("The cursor belongs to another list; start from the first page.")
        return position


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[RecordedEvent]
    next: EventPosition | None


@dataclass(frozen=True, slots=True)
class MergedAway:
    """A timeline asked of a record that was merged into another."""

    merged_into: UUID


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Audit filters, all optional and combined with AND. `topic` ending in `.` is a prefix
    (`contact.`), else an exact topic; `record` keeps the events concerning one record;
    `since` is inclusive, `until` exclusive."""

    actor_id: UUID | None = None
    topic: str | None = None
    record: RecordRef | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches_topic(self, topic: str) -> bool:
        if self.topic is None:
            return True
        return topic.startswith(self.topic) if self.topic.endswith(".") else topic == self.topic
