"""Ports of merging: moving what a merged record had to the survivor, and its tombstone."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from crm.domain.model.deal import LinkedObject
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import RecordType


class MergeRepository(Protocol):
    """Set-based moves in the unit of work; each returns how many associations the survivor
    gained (a duplicate of one it already had collapses into it and is not counted)."""

    async def move_contact_companies(
        self, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        """The source contact's company links become the survivor's; the survivor keeps its
        primary company and takes the source's only when it had none."""

    async def move_company_contacts(
        self, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        """The source company's contact links become the survivor company's; a contact whose
        primary company was either is primary at the survivor."""

    async def move_deal_links(
        self, kind: LinkedObject, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        """The deals linked to the source contact (company) are linked to the survivor."""

    async def move_notes(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        source_id: UUID,
        survivor_id: UUID,
        now: datetime,
    ) -> int:
        """The source's notes are about the survivor (each a new version)."""

    async def move_tasks(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        source_id: UUID,
        survivor_id: UUID,
        now: datetime,
    ) -> int:
        """The tasks about the source are about the survivor (each a new version)."""

    async def bury(self, tombstone: Tombstone) -> None:
        """Write the source's tombstone; tombstones that named the source as their survivor
        now name the new survivor (chains collapse to one step)."""

    async def merged_into(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> UUID | None:
        """The survivor a merged record's id now leads to; None when it was never merged."""


class TombstoneReader(Protocol):
    """The not-found path of reads, outside a unit of work: one round trip, never locking."""

    async def merged_into(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> UUID | None:
        """The survivor a merged record's id now leads to; None when it was never merged."""
