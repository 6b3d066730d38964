"""Task schemas (the public contract; the domain model is separate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.task import MAX_DESCRIPTION, MAX_TITLE
from crm.entrypoints.api.schemas.shared import Instant

_CURSOR = "Pass as `cursor` for the next page; null at the end"
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]
Priority = Literal["low", "normal", "high"]
RecordType = Literal["contact", "company", "deal"]
_DUE = "When it is due, with a time zone offset; overdue open tasks list first"
_EXAMPLE: JsonDict = {
    "title": "Send the quote",
    "due_at": "2026-12-01T09:00:00Z",
    "priority": "high",
    "record_type": "deal",
    "record_id": "0193a5f0-0000-7000-8000-000000000001",
}


class TaskCreate(BaseModel):
    """A new open task; `record_type` and `record_id` (both or neither) name what it is about."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    title: Title
    description: Description | None = None
    due_at: Instant | None = Field(None, description=_DUE)
    assignee_id: UUID | None = Field(None, description="A member of the workspace")
    priority: Priority = "normal"
    record_type: RecordType | None = None
    record_id: UUID | None = None


class TaskUpdate(BaseModel):
    """Partial update: fields left out are unchanged, `null` clears (not title or priority).
    Done or open: POST .../done and .../undone."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"due_at": "2026-12-02T09:00:00Z"}]}
    )

    title: Title | None = None
    description: Description | None = None
    due_at: Instant | None = Field(None, description=_DUE)
    assignee_id: UUID | None = None
    priority: Priority | None = None


class Task(BaseModel):
    """Something to do, maybe about a contact, company or deal."""

    id: UUID
    title: str
    description: str | None
    due_at: datetime | None
    assignee_id: UUID | None
    priority: Priority
    done: bool
    done_at: datetime | None
    record_type: RecordType | None
    record_id: UUID | None
    created_by: UUID = Field(description="The user (or API key) that created it")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class TaskPage(BaseModel):
    data: list[Task]
    next_cursor: str | None = Field(description=_CURSOR)
