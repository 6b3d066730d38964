"""Where attachments are kept (their rows; the files themselves are in the BlobStore)."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from crm.domain.model.attachments import AttachedTo, Attachment
from crm.domain.pagination import Page, PageRequest


class AttachmentRepository(Protocol):
    async def add(self, attachment: Attachment) -> None: ...

    async def get(self, workspace_id: UUID, attachment_id: UUID) -> Attachment | None: ...

    async def get_for_update(self, workspace_id: UUID, attachment_id: UUID) -> Attachment | None:
        """Load and lock the attachment until the unit of work ends."""

    async def save(self, attachment: Attachment, expected_version: int) -> None:
        """Raises VersionConflict when the stored version is not `expected_version`."""

    async def remove(self, attachment: Attachment) -> None: ...

    async def of_record(
        self, workspace_id: UUID, record_type: AttachedTo, record_id: UUID, page: PageRequest
    ) -> Page[Attachment]:
        """The record's ready attachments, newest first."""

    async def any_of_record(
        self, workspace_id: UUID, record_type: AttachedTo, record_id: UUID, limit: int
    ) -> list[Attachment]:
        """Up to `limit` of the record's attachments, pending or ready, oldest first."""

    async def move(
        self, workspace_id: UUID, record_type: AttachedTo, source_id: UUID, target_id: UUID
    ) -> int:
        """Give every attachment of the source record to the target (a merge): how many."""
