"""Ports of the note slice."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from crm.domain.model.note import Note, NotePage, NotePosition, RecordType


class NoteRepository(Protocol):
    async def add(self, note: Note) -> None: ...

    async def get_for_update(self, workspace_id: UUID, note_id: UUID) -> Note | None:
        """Load and lock the note until the unit of work ends."""

    async def save(self, note: Note, expected_version: int) -> None:
        """Write changes; VersionConflict if the stored version moved on."""

    async def remove(self, note: Note) -> None: ...

    async def remove_of_record(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> None:
        """Delete every note of one record (the record is being deleted)."""


class NoteReader(Protocol):
    """Reads outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, note_id: UUID) -> Note | None: ...

    async def of_record(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: NotePosition | None,
    ) -> NotePage | None:
        """The record's notes, pinned first then newest first; None when there is no such
        record in the workspace."""
