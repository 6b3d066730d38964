"""Timeline and audit use cases: the outbox read back as a record's history and as the
workspace's log of who did what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import (
    CompanyMerged,
    CompanyNotFound,
    ContactMerged,
    ContactNotFound,
    DealNotFound,
    FieldError,
    InvalidQuery,
    NotFound,
)
from crm.domain.model.instant import in_utc
from crm.domain.model.note import READ_ACTION, RecordType
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.timeline import AuditFilter, EventPage, EventPosition, MergedAway
from crm.ports.timeline import EventReader

_NOT_FOUND: dict[RecordType, type[NotFound]] = {
    RecordType.CONTACT: ContactNotFound,
    RecordType.COMPANY: CompanyNotFound,
    RecordType.DEAL: DealNotFound,
}


class GetRecordTimeline:
    """A record's history, newest first (keyset pages): every event about it — its own
    changes with old and new values, notes, tasks, links, moves — including the history of
    records merged into it. Needs read access to the record's type."""

    def __init__(self, events: EventReader) -> None:
        self._events = events

    async def execute(
        self,
        principal: Principal,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: EventPosition | None = None,
    ) -> EventPage:
        principal.require(READ_ACTION[record_type])
        found = await self._events.timeline(
            principal.workspace_id, record_type, record_id, limit, after
        )
        if isinstance(found, MergedAway):
            merged = CompanyMerged if record_type is RecordType.COMPANY else ContactMerged
            what = f"The {record_type.value} {record_id}"
            raise merged(f"{what} was merged into {found.merged_into}.", found.merged_into)
        if found is None:
            kind = _NOT_FOUND[record_type]
            raise kind(f"No {record_type.value} {record_id} in this workspace.")
        return found


@dataclass(frozen=True, slots=True)
class AuditQuery:
    principal: Principal
    limit: int
    after: EventPosition | None = None
    actor_id: UUID | None = None
    topic: str | None = None
    record_type: str | None = None
    record_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


class ListAuditEvents:
    """Who did what in the workspace, newest first (keyset pages): every recorded event with
    its actor, filtered by `actor_id`, `topic` (exact, or a prefix ending in `.` such as
    `contact.`), a record (`record_type` with `record_id`: the events concerning it) and
    occurred_at (`since` inclusive, `until` exclusive). Owners and admins only; API keys need
    the `admin` scope."""

    def __init__(self, events: EventReader) -> None:
        self._events = events

    async def execute(self, q: AuditQuery) -> EventPage:
        q.principal.require(Action.READ_AUDIT)
        _check(q)
        record = None if q.record_id is None else (str(q.record_type), q.record_id)
        filters = AuditFilter(q.actor_id, q.topic, record, q.since, q.until)
        return await self._events.audit(q.principal.workspace_id, filters, q.limit, q.after)


def _check(q: AuditQuery) -> None:
    if (q.record_type is None) != (q.record_id is None):
        raise InvalidQuery(
            "record_type and record_id go together.",
            errors=(FieldError("record_id", "record_incomplete", "give both or neither"),),
        )
    for name, at in (("since", q.since), ("until", q.until)):
        if at is not None and in_utc(at) is None:
            raise InvalidQuery(
                f"{name} needs a UTC offset.",
                errors=(FieldError(name, "invalid_datetime", "an RFC 3339 time with an offset"),),
            )
