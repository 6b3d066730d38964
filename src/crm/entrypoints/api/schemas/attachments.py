"""Attachment schemas: starting an upload, the attachment, its download link."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm.domain.model.attachments import MAX_FILENAME

_CURSOR = "Pass as `cursor` for the next page; null at the end"
_FILENAME = (
    "The file's name as people see it (downloads are named after it): 1 to "
    f"{MAX_FILENAME} characters, no control characters, no `/` or `\\`"
)
_CONTENT_TYPE = (
    "The file's media type (`application/pdf`, `image/png`); the upload must send exactly "
    "this one, and downloads are served with it"
)
_MAX_BYTES = (
    "The largest file the upload may be, in bytes: at most 15 MiB, which is also the default"
)
_STATUS = (
    "`pending` until the upload is confirmed, then `ready`; only ready attachments are listed "
    "and downloaded"
)
_FIELDS = (
    "Send these form fields unchanged, then the file as the last field, `file`, in one "
    "`multipart/form-data` POST to `url`. No API key: the form is the credential."
)


# No `maximum` in the schema: openapi-generator (7.26) fails to name a model whose optional
# integer has this bound ("Failed to get the schema name"); the use case refuses more than
# the limit with 422 `invalid_max_bytes`, naming the field.
MaxBytes = Annotated[int, Field(ge=1)]


class AttachmentCreate(BaseModel):
    """A file to attach to the record named in the path."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"filename": "Quote Q1.pdf", "content_type": "application/pdf"}]
        },
    )

    filename: str = Field(min_length=1, max_length=MAX_FILENAME, description=_FILENAME)
    content_type: str = Field(min_length=3, max_length=255, description=_CONTENT_TYPE)
    max_bytes: MaxBytes | None = Field(None, description=_MAX_BYTES)


class Attachment(BaseModel):
    id: UUID
    record_type: Literal["contact", "company", "deal", "note"]
    record_id: UUID
    filename: str = Field(description=_FILENAME)
    content_type: str = Field(description=_CONTENT_TYPE)
    max_bytes: int = Field(description="The largest file its upload may be, in bytes")
    size: int | None = Field(description="The file's size in bytes once confirmed, else null")
    status: Literal["pending", "ready"] = Field(description=_STATUS)
    created_by: UUID = Field(description="The person or API key that attached it")
    created_at: datetime
    confirmed_at: datetime | None
    version: int = Field(description="Increases on every change; send it back in If-Match")


class AttachmentUpload(BaseModel):
    """A presigned form that uploads the attachment's file straight to the file store."""

    url: str = Field(description="POST the form here")
    fields: dict[str, str] = Field(description=_FIELDS)
    expires_at: datetime = Field(description="The form is refused after this (15 minutes)")


class AttachmentStarted(BaseModel):
    """The pending attachment and the form to upload its file with; then confirm it."""

    attachment: Attachment
    upload: AttachmentUpload


class AttachmentPage(BaseModel):
    data: list[Attachment]
    next_cursor: str | None = Field(description=_CURSOR)


class AttachmentDownload(BaseModel):
    """A link that GETs the file (named after the attachment) until it expires."""

    url: str = Field(description="GET the file here; no API key: the link is the credential")
    expires_at: datetime = Field(description="The link is refused after this (5 minutes)")
