"""Note schemas (the public contract; the domain model is separate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm.domain.model.note import MAX_NOTE_TEXT

_CURSOR = "Pass as `cursor` for the next page; null at the end"
Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NOTE_TEXT,
        description="Plain text; surrounding blanks are dropped and it may not be blank",
    ),
]


class NoteCreate(BaseModel):
    """A new note on the record named in the path; the caller is its author."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Called: wants a quote by Friday."}]},
    )

    text: Text
    pinned: bool = Field(False, description="Pinned notes list before the others")


class NoteUpdate(BaseModel):
    """Partial update: fields left out are unchanged; neither can be cleared (null is a 422)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"pinned": True}]})

    text: Text | None = None
    pinned: bool | None = None


class Note(BaseModel):
    """A note on a contact, company or deal."""

    id: UUID
    record_type: Literal["contact", "company", "deal"]
    record_id: UUID
    text: str
    author_id: UUID = Field(description="The user (or API key) that wrote it")
    pinned: bool
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class NotePage(BaseModel):
    data: list[Note]
    next_cursor: str | None = Field(description=_CURSOR)
