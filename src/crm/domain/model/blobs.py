"""Files a workspace keeps (attachments, inbound media) and the signed links that reach them.

A key names a file within its workspace; the store puts it under `{workspace_id}/{key}`, so
a key that could climb out of that prefix (`..`, a leading `/`, control characters) is
refused before any store sees it.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote
from uuid import UUID

from crm.domain.errors import DomainError, FieldError, InvalidInput, NotFound, PermissionDenied

MAX_KEY_BYTES = 512
MAX_SEGMENT_BYTES = 255
"""A file name's limit on common file systems, so a key is a path on any of them."""
DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_UPLOAD_BYTES = 5 * 1024**3
"""S3's largest single POST upload."""
UPLOAD_LINK_LIFETIME = timedelta(minutes=15)
DOWNLOAD_LINK_LIFETIME = timedelta(minutes=5)
MAX_LINK_LIFETIME = timedelta(days=7)
"""The longest a SigV4 presigned link may live."""
_WORD = r"[\w!#$&^.+-]+"
_CONTENT_TYPE = re.compile(rf"{_WORD}/{_WORD}(; ?{_WORD}=(?:{_WORD}|\"[\w .+=/-]*\"))*", re.ASCII)


class LinkOp(enum.StrEnum):
    GET = "get"
    PUT = "put"


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class UploadForm:
    """A browser POSTs `fields` then the file (as the form field `file`) to `url`; the store
    refuses another key, another content type, or a file larger than `max_bytes`."""

    url: str
    fields: dict[str, str]
    expires_at: datetime
    key: str
    max_bytes: int
    content_type: str


@dataclass(frozen=True, slots=True)
class FileLink:
    """What a signed link to a local file grants: `op` on one workspace's key until
    `expires_at`; uploads carry their content type and size limit, downloads a filename."""

    workspace_id: UUID
    key: str
    op: LinkOp
    expires_at: datetime
    content_type: str | None = None
    max_bytes: int | None = None
    filename: str | None = None


class InvalidFileLink(PermissionDenied):
    code = "invalid_file_link"
    title = "The file link is invalid or has expired"


class UploadRefused(PermissionDenied):
    """The upload breaks its form's policy (another key or content type, an empty file)."""

    code = "upload_refused"
    title = "The upload does not match its form"


class UploadTooLarge(DomainError):
    code = "upload_too_large"
    title = "The file is larger than the form allows"


class MalformedUpload(DomainError):
    code = "malformed_upload"
    title = "The upload is not a multipart form with a file"


class FileNotFound(NotFound):
    code = "file_not_found"
    title = "File not found"


def _invalid(pointer: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid {pointer[1:]}: {message}.", errors=(FieldError(pointer, code, message),)
    )


def check_key(key: str) -> str:
    """`key` when it names a file inside its workspace's prefix, else InvalidInput."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if not key or size > MAX_KEY_BYTES:
        raise _invalid("/key", "invalid_key", f"1 to {MAX_KEY_BYTES} bytes")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in key) or "\\" in key:
        raise _invalid("/key", "invalid_key", "no control characters or backslashes")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _invalid("/key", "invalid_key", "no empty, '.' or '..' path segments")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES for part in parts):
        raise _invalid("/key", "invalid_key", f"at most {MAX_SEGMENT_BYTES} bytes between slashes")
    return key


def check_content_type(value: str) -> str:
    if len(value) > 255 or not _CONTENT_TYPE.fullmatch(value):
        raise _invalid("/content_type", "invalid_content_type", "a media type like image/png")
    return value


def check_max_bytes(value: int) -> int:
    if not 1 <= value <= MAX_UPLOAD_BYTES:
        raise _invalid("/max_bytes", "invalid_max_bytes", f"1 to {MAX_UPLOAD_BYTES} bytes")
    return value


def check_lifetime(expires: timedelta) -> int:
    """The link's lifetime in whole seconds, 1 s to 7 days."""
    seconds = int(expires.total_seconds())
    if not 1 <= seconds <= MAX_LINK_LIFETIME.total_seconds():
        raise _invalid("/expires", "invalid_lifetime", "1 second to 7 days")
    return seconds


def content_disposition(filename: str) -> str:
    """An attachment header naming `filename` (RFC 6266): an ASCII fallback for old
    clients, the exact name percent-encoded as UTF-8 for the rest."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
