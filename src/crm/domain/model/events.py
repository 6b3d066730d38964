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
    """`payload["changes"]`: role, old and new."""

    topic: ClassVar[str] = "member.role_changed"
    aggregate_type: ClassVar[str] = "member"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRemoved(DomainEvent):
    """`payload`: the role the member had."""

    topic: ClassVar[str] = "member.removed"
    aggregate_type: ClassVar[str] = "member"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationCreated(DomainEvent):
    """The worker (re)sends the email from this when the request's own send failed."""

    topic: ClassVar[str] = "invitation.created"
    aggregate_type: ClassVar[str] = "invitation"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteAdded(DomainEvent):
    """`payload`: the note (record_type, record_id, text, author_id, pinned, ...)."""

    topic: ClassVar[str] = "note.added"
    aggregate_type: ClassVar[str] = "note"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteUpdated(DomainEvent):
    """`payload`: record_type, record_id and `changes` (each changed field's old and new value)."""

    topic: ClassVar[str] = "note.updated"
    aggregate_type: ClassVar[str] = "note"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteDeleted(DomainEvent):
    """`payload`: record_type, record_id (notes of a deleted record go without this event)."""

    topic: ClassVar[str] = "note.deleted"
    aggregate_type: ClassVar[str] = "note"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCreated(DomainEvent):
    """`payload`: the task."""

    topic: ClassVar[str] = "task.created"
    aggregate_type: ClassVar[str] = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskUpdated(DomainEvent):
    """`payload`: record_type, record_id (null for none) and `changes` (each changed field's
    old and new value)."""

    topic: ClassVar[str] = "task.updated"
    aggregate_type: ClassVar[str] = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(DomainEvent):
    """`payload`: record_type, record_id (null for none), done_at."""

    topic: ClassVar[str] = "task.completed"
    aggregate_type: ClassVar[str] = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReopened(DomainEvent):
    """`payload`: record_type, record_id (null for none), done_at (null)."""

    topic: ClassVar[str] = "task.reopened"
    aggregate_type: ClassVar[str] = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDeleted(DomainEvent):
    """`payload`: the task."""

    topic: ClassVar[str] = "task.deleted"
    aggregate_type: ClassVar[str] = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompanyCreated(DomainEvent):
    topic: ClassVar[str] = "company.created"
    aggregate_type: ClassVar[str] = "company"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompanyUpdated(DomainEvent):
    """`payload["changes"]` maps each changed field to its old and new value."""

    topic: ClassVar[str] = "company.updated"
    aggregate_type: ClassVar[str] = "company"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompanyDeleted(DomainEvent):
    """Its links to contacts went with it; the contacts themselves are untouched.
    `payload`: the company as it was and `contact_ids`, the contacts it was linked to."""

    topic: ClassVar[str] = "company.deleted"
    aggregate_type: ClassVar[str] = "company"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactLinkedToCompany(DomainEvent):
    """`payload`: company_id, is_primary."""

    topic: ClassVar[str] = "contact.company_linked"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactUnlinkedFromCompany(DomainEvent):
    """`payload`: company_id, was_primary."""

    topic: ClassVar[str] = "contact.company_unlinked"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactPrimaryCompanyChanged(DomainEvent):
    """`payload`: old and new primary company ids (either may be null)."""

    topic: ClassVar[str] = "contact.primary_company_changed"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineCreated(DomainEvent):
    topic: ClassVar[str] = "pipeline.created"
    aggregate_type: ClassVar[str] = "pipeline"


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineUpdated(DomainEvent):
    """Name, default or stages changed; `payload` is the pipeline as it now is."""

    topic: ClassVar[str] = "pipeline.updated"
    aggregate_type: ClassVar[str] = "pipeline"


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineDeleted(DomainEvent):
    topic: ClassVar[str] = "pipeline.deleted"
    aggregate_type: ClassVar[str] = "pipeline"


@dataclass(frozen=True, slots=True, kw_only=True)
class DealCreated(DomainEvent):
    topic: ClassVar[str] = "deal.created"
    aggregate_type: ClassVar[str] = "deal"


@dataclass(frozen=True, slots=True, kw_only=True)
class DealUpdated(DomainEvent):
    """`payload["changes"]` maps each changed field to its old and new value."""

    topic: ClassVar[str] = "deal.updated"
    aggregate_type: ClassVar[str] = "deal"


@dataclass(frozen=True, slots=True, kw_only=True)
class DealMoved(DomainEvent):
    """`payload`: pipeline_id, from_stage_id, to_stage_id, from_status, to_status."""

    topic: ClassVar[str] = "deal.moved"
    aggregate_type: ClassVar[str] = "deal"


@dataclass(frozen=True, slots=True, kw_only=True)
class DealDeleted(DomainEvent):
    topic: ClassVar[str] = "deal.deleted"
    aggregate_type: ClassVar[str] = "deal"


@dataclass(frozen=True, slots=True, kw_only=True)
class DealLinked(DomainEvent):
    """`payload`: object_type (contact or company), object_id."""

    topic: ClassVar[str] = "deal.linked"
    aggregate_type: ClassVar[str] = "deal"


@dataclass(frozen=True, slots=True, kw_only=True)
class DealUnlinked(DomainEvent):
    """`payload`: object_type (contact or company), object_id."""

    topic: ClassVar[str] = "deal.unlinked"
    aggregate_type: ClassVar[str] = "deal"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactMerged(DomainEvent):
    """On the survivor. `payload`: source_id (the contact merged away, now a tombstone),
    source (its fields as they were), changes (the survivor's fields that changed: old and
    new), moved (how many company links, deals, notes and tasks it gained)."""

    topic: ClassVar[str] = "contact.merged"
    aggregate_type: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompanyMerged(DomainEvent):
    """On the survivor. `payload`: source_id, source, changes, moved (contacts, deals, notes,
    tasks), as for `ContactMerged`."""

    topic: ClassVar[str] = "company.merged"
    aggregate_type: ClassVar[str] = "company"


# Conversations (#15): messages of a chat, which count as its contact's activity.


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessageReceived(DomainEvent):
    """A customer's message arrived. `payload`: chat_id, channel_id (the phone number id),
    customer_phone, contact_id (null: the chat has no contact), assignee_id, and `message`
    (provider_id, kind, text, sent_at, metadata)."""

    topic: ClassVar[str] = "chat.message_received"
    aggregate_type: ClassVar[str] = "chat"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessageSent(DomainEvent):
    """A member replied through the API; `payload` as for `ChatMessageReceived`."""

    topic: ClassVar[str] = "chat.message_sent"
    aggregate_type: ClassVar[str] = "chat"


# Custom field definitions and the tag catalogue (#5 audit: who changed the workspace's schema).


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomFieldCreated(DomainEvent):
    """`payload`: the definition (object_type, key, label, field_type, options)."""

    topic: ClassVar[str] = "custom_field.created"
    aggregate_type: ClassVar[str] = "custom_field"


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomFieldUpdated(DomainEvent):
    """`payload`: object_type, key and `changes` (label, options, archived_at: old and new)."""

    topic: ClassVar[str] = "custom_field.updated"
    aggregate_type: ClassVar[str] = "custom_field"


@dataclass(frozen=True, slots=True, kw_only=True)
class TagCreated(DomainEvent):
    """`payload`: name, color. Tags a record write adds to the catalogue record none."""

    topic: ClassVar[str] = "tag.created"
    aggregate_type: ClassVar[str] = "tag"


@dataclass(frozen=True, slots=True, kw_only=True)
class TagUpdated(DomainEvent):
    """`payload["changes"]`: name and/or color, old and new. The records a rename rewrote
    record no event of their own."""

    topic: ClassVar[str] = "tag.updated"
    aggregate_type: ClassVar[str] = "tag"


@dataclass(frozen=True, slots=True, kw_only=True)
class TagDeleted(DomainEvent):
    """`payload`: name, color. The records it was removed from record no event of their own."""

    topic: ClassVar[str] = "tag.deleted"
    aggregate_type: ClassVar[str] = "tag"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSubscriptionDisabled(DomainEvent):
    """The service stopped delivering to a subscription (410 Gone, or failing for days).
    `payload`: url, reason (`gone` or `failing`), failing_since. Admins are emailed."""

    topic: ClassVar[str] = "webhook_subscription.disabled"
    aggregate_type: ClassVar[str] = "webhook_subscription"
