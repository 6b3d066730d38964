"""The realtime event stream's rules: which events a caller sees, and why a stream resets.

A caller sees an event when they may read what it concerns, decided by the event's aggregate
type with the same actions the reads check (`permissions.py`): contact events need
`read_contacts` (an API key: `contacts:read`), deal events `read_deals`, notes and tasks the
read action of the record they belong to, pipelines, custom fields and tags `read_schema`,
members `read_members`, invitations `invite_members`, webhook subscriptions
`manage_webhooks`. An aggregate type this table does not know (a newer kind of event) is shown
only to those who may read the audit log, which holds every event.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from crm.domain.errors import DomainError, FieldError, InvalidQuery
from crm.domain.model.delivery import PublishedEvent, topic_matches
from crm.domain.model.note import READ_ACTION, RecordType
from crm.domain.model.permissions import Action, Principal

# The handler registry's patterns: `*`, an exact type (`deal.moved`) or a prefix (`contact.*`).
TYPE_PATTERN = re.compile(r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
MAX_TYPES = 20
REPLAY_LIMIT = 1000
"""The most events a resume sends from the outbox; a client further behind is told to reset."""

_READ_BY_AGGREGATE: dict[str, Action] = {
    "contact": Action.READ_CONTACTS,
    "chat": Action.READ_CONTACTS,
    "company": Action.READ_COMPANIES,
    "deal": Action.READ_DEALS,
    "pipeline": Action.READ_SCHEMA,
    "custom_field": Action.READ_SCHEMA,
    "tag": Action.READ_SCHEMA,
    "member": Action.READ_MEMBERS,
    "invitation": Action.INVITE_MEMBERS,
    "webhook_subscription": Action.MANAGE_WEBHOOKS,
}


def read_action(event: PublishedEvent) -> Action:
    """What a caller must be allowed to do to see `event` on the stream."""
    if event.aggregate_type in ("note", "task"):
        record_type = event.payload.get("record_type")
        if record_type is None and event.aggregate_type == "task":
            return Action.READ_CONTACTS  # a task on no record: as GET /v1/tasks/{id} checks
        try:
            return READ_ACTION[RecordType(str(record_type))]
        except ValueError:
            return Action.READ_AUDIT
    return _READ_BY_AGGREGATE.get(event.aggregate_type, Action.READ_AUDIT)


class ResetReason(enum.StrEnum):
    """Why the stream cannot say what the client missed: it must re-read, then listen."""

    UNKNOWN_EVENT = "unknown_event"
    """Last-Event-ID names no event of the workspace (purged from the outbox, or never one)."""
    TOO_FAR_BEHIND = "too_far_behind"
    """More than REPLAY_LIMIT events came after Last-Event-ID."""
    TOO_SLOW = "too_slow"
    """The client read more slowly than events came; the stream closes after saying so."""


class EndReason(enum.StrEnum):
    """Why the service closes a stream; the client reconnects with Last-Event-ID."""

    SHUTDOWN = "shutdown"
    CREDENTIALS_CHANGED = "credentials_changed"
    """The key was revoked or the member's role changed or they left: authenticate again."""


class TooManyStreams(DomainError):
    code = "too_many_streams"
    title = "Too many open event streams"


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """The events one stream sends: of its workspace, of the types asked for (every type
    when none), that its principal may read."""

    principal: Principal
    types: tuple[str, ...] = ()

    @classmethod
    def parse(cls, principal: Principal, types: Sequence[str] | None) -> StreamFilter:
        """Types as `?types=` gives them, one pattern per parameter; 422 for a bad one."""
        given = tuple(types or ())
        errors = [
            FieldError(
                "types",
                "invalid_event_type",
                f"{t!r} is not an event type pattern: `*`, `contact.*` or `deal.moved`",
            )
            for t in given
            if not TYPE_PATTERN.fullmatch(t)
        ]
        if len(given) > MAX_TYPES:
            errors.append(FieldError("types", "too_many_types", f"at most {MAX_TYPES} patterns"))
        if errors:
            raise InvalidQuery("The event types are not valid.", errors=tuple(errors))
        return cls(principal, tuple(dict.fromkeys(given)))

    def accepts(self, event: PublishedEvent) -> bool:
        if event.workspace_id != self.principal.workspace_id:
            return False
        if self.types and not any(topic_matches(p, event.type) for p in self.types):
            return False
        return self.principal.may(read_action(event))
