"""Files kept for workspaces (S3 in production, the local disk for `crm dev`), reached by
clients through short-lived signed links rather than through the API."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import timedelta
from typing import Protocol
from uuid import UUID

from crm.domain.errors import PortError
from crm.domain.model.blobs import BlobInfo, FileLink, LinkOp, UploadForm


class BucketMissing(PortError):
    """The bucket does not exist: `crm aws create-resources` makes it; the service never
    creates it while it runs."""


class BlobStore(Protocol):
    """Every method takes the workspace first and a key within it (checked by `check_key`,
    InvalidInput otherwise): no key, link or form ever reaches another workspace's files.
    Vendor failures arrive as ServiceUnavailable (transient) or PortError."""

    async def put(self, workspace_id: UUID, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store `data` under `key`, replacing any file there."""

    async def upload_form(
        self,
        workspace_id: UUID,
        key: str,
        content_type: str,
        max_bytes: int,
        expires: timedelta,
    ) -> UploadForm:
        """A form a client POSTs one file with, straight to the store: exactly this key and
        content type, 1 to `max_bytes` bytes, until it expires."""

    async def download_url(
        self, workspace_id: UUID, key: str, expires: timedelta, filename: str | None = None
    ) -> str:
        """A link that GETs the file until it expires; with `filename`, as an attachment
        of that name. Signing needs no call to the store: the file may not exist."""

    async def head(self, workspace_id: UUID, key: str) -> BlobInfo | None:
        """The file's size and content type, or None when there is none (an upload not
        made, or not finished)."""

    async def delete(self, workspace_id: UUID, key: str) -> None:
        """Remove the file; removing a missing one is harmless."""


class SignedFiles(Protocol):
    """The side of the local store the app serves its links from (`crm dev`)."""

    def verify(self, token: str, op: LinkOp) -> FileLink:
        """What the link grants, or InvalidFileLink when it is forged, expired or for the
        other operation."""

    async def receive(
        self, link: FileLink, fields: Mapping[str, str], chunks: AsyncIterable[bytes]
    ) -> BlobInfo:
        """Store an upload's file as it streams in, once the form's `fields` match the
        link: UploadRefused, UploadTooLarge (no partial file is kept) otherwise."""

    async def read(
        self, workspace_id: UUID, key: str
    ) -> tuple[BlobInfo, AsyncIterator[bytes]] | None:
        """The file (already open, so a concurrent delete cannot cut it short) and its
        bytes, or None when there is none."""
