"""Timeline and audit schemas: recorded events as clients read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

_CURSOR = "Pass as `cursor` for the next page; null at the end"

AuditRecordType = Literal[
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
]


class EventActor(BaseModel):
    """Who caused an event: a person (`user`) or an API key (`api_key`)."""

    id: UUID
    kind: Literal["user", "api_key"]


class FieldChange(BaseModel):
    """A field's value before and after the change (any JSON value; null when unset)."""

    old: Any = Field(description="The value before the change")
    new: Any = Field(description="The value after the change")


class TimelineEntry(BaseModel):
    """One recorded event: what happened (`topic`), when, by whom, to which aggregate, the
    fields it changed and the rest of what it recorded."""

    id: UUID
    topic: str = Field(description="What happened, e.g. `contact.updated`, `deal.moved`")
    occurred_at: datetime
    actor: EventActor | None = Field(description="Null for events no one caused")
    aggregate_type: str = Field(description="The kind of object the event is about")
    aggregate_id: UUID
    changes: dict[str, FieldChange] | None = Field(
        description="For updates: each changed field's old and new value; else null"
    )
    data: dict[str, Any] = Field(
        description="The rest of the event (e.g. a note's text, a deal's stages), by topic"
    )


class TimelinePage(BaseModel):
    data: list[TimelineEntry]
    next_cursor: str | None = Field(description=_CURSOR)


class AuditEventPage(BaseModel):
    data: list[TimelineEntry]
    next_cursor: str | None = Field(description=_CURSOR)
