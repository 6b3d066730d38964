"""Attachments: files on a contact, company, deal or note.

A client starts an attachment (its name, content type and size limit), uploads the file
straight to the blob store with the form it gets back, then confirms: the service checks the
stored file against what was started and the attachment becomes ready. Only ready ones are
listed and downloaded. The file's key names the record and the attachment, under the
workspace's prefix the store adds.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from crm.domain.model.blobs import DEFAULT_MAX_UPLOAD_BYTES, BlobInfo, check_content_type

MAX_FILENAME = 255


class AttachedTo(enum.StrEnum):
    """The kinds of record a file can be attached to."""

    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"
    NOTE = "note"


class AttachmentStatus(enum.StrEnum):
    PENDING = "pending"
    """Started: the file may be on its way to the store."""
    READY = "ready"
    """Confirmed: the stored file matched, and it can be listed and downloaded."""


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    title = "Attachment not found"


class UploadMissing(Conflict):
    """Confirming before the file reached the store (or after the store refused it)."""

    code = "upload_missing"
    title = "The file has not been uploaded"


class UploadMismatch(Conflict):
    """The stored file is not the one started (larger, or of another content type)."""

    code = "upload_mismatch"
    title = "The uploaded file does not match the attachment"


class AttachmentNotReady(Conflict):
    code = "attachment_not_ready"
    title = "The attachment's upload is not confirmed yet"


def _invalid(pointer: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid {pointer[1:]}: {message}.", errors=(FieldError(pointer, code, message),)
    )


def check_filename(value: str) -> str:
    """A file's name as people see it: 1 to 255 characters, not blank, no control
    characters or path separators (it names a download, never a path)."""
    if not 1 <= len(value) <= MAX_FILENAME or not value.strip():
        raise _invalid("/filename", "invalid_filename", f"1 to {MAX_FILENAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise _invalid("/filename", "invalid_filename", "no control characters")
    if "/" in value or "\\" in value or value in (".", ".."):
        raise _invalid("/filename", "invalid_filename", "a name, not a path")
    return value


def check_upload_limit(value: int, limit: int = DEFAULT_MAX_UPLOAD_BYTES) -> int:
    if not 1 <= value <= limit:
        raise _invalid("/max_bytes", "invalid_max_bytes", f"1 to {limit} bytes")
    return value


@dataclass(slots=True)
class Attachment:
    id: UUID
    workspace_id: UUID
    record_type: AttachedTo
    record_id: UUID
    filename: str
    content_type: str
    max_bytes: int
    created_by: UUID
    created_at: datetime
    status: AttachmentStatus = AttachmentStatus.PENDING
    size: int | None = None
    """The stored file's size, known once confirmed."""
    confirmed_at: datetime | None = None
    version: int = 1

    @classmethod
    def start(
        cls,
        id: UUID,
        workspace_id: UUID,
        record: tuple[AttachedTo, UUID],
        filename: str,
        content_type: str,
        max_bytes: int,
        created_by: UUID,
        now: datetime,
    ) -> Attachment:
        """A pending attachment, its inputs checked (InvalidInput naming each field)."""
        return cls(
            id=id,
            workspace_id=workspace_id,
            record_type=record[0],
            record_id=record[1],
            filename=check_filename(filename),
            content_type=check_content_type(content_type),
            max_bytes=max_bytes,
            created_by=created_by,
            created_at=now,
        )

    @property
    def key(self) -> str:
        """The file's key within the workspace's files."""
        return f"attachments/{self.id}"

    @property
    def ready(self) -> bool:
        return self.status is AttachmentStatus.READY

    def confirm(self, stored: BlobInfo | None, now: datetime) -> None:
        """Ready, when `stored` (the store's view of the key) is the file started:
        UploadMissing when there is none, UploadMismatch when it differs."""
        if stored is None:
            raise UploadMissing(
                "No file has arrived for this attachment: POST it with the upload form first "
                "(an upload the store refused, too large or of another type, leaves none)."
            )
        if stored.size > self.max_bytes or stored.content_type != self.content_type:
            raise UploadMismatch(
                f"The stored file ({stored.size} bytes, {stored.content_type}) is not the "
                f"one started (at most {self.max_bytes} bytes, {self.content_type})."
            )
        self.status, self.size, self.confirmed_at = AttachmentStatus.READY, stored.size, now
        self.version += 1
