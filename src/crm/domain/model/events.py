"""Domain events: facts recorded in the outbox in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    topic: ClassVar[str] = "event"
    aggregate_type: ClassVar[str] = "aggregate"

    id: UUID
    workspace_id: UUID
    aggregate_id: UUID
    occurred_at: datetime
    actor_id: UUID | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactCreated(DomainEvent):
    topic: ClassVar[str] = "contact.created"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactUpdated(DomainEvent):
    """`payload["changes"]` maps each changed field to its old and new value."""

    topic: ClassVar[str] = "contact.updated"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactDeleted(DomainEvent):
    topic: ClassVar[str] = "contact.deleted"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(DomainEvent):
    topic: ClassVar[str] = "member.joined"
    aggregate_type: ClassVar[str] = "member"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRoleChanged(DomainEvent):
    topic: ClassVar[str] = "member.role_changed"
    aggregate_type: ClassVar[str] = "member"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRemoved(DomainEvent):
    topic: ClassVar[str] = "member.removed"
    aggregate_type: ClassVar[str] = "member"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationCreated(DomainEvent):
    """The worker (re)sends the email from this when the request's own send failed."""

    topic: ClassVar[str] = "invitation.created"
    aggregate_type: ClassVar[str] = "invitation"
