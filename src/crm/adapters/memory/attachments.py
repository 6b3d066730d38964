"""Attachments' rows in memory."""

from __future__ import annotations

import copy
from dataclasses import replace
from uuid import UUID

from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.state import MemoryState
from crm.domain.errors import VersionConflict
from crm.domain.model.attachments import AttachedTo, Attachment
from crm.domain.pagination import Page, PageRequest, SortOrder


class InMemoryAttachmentRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, attachment: Attachment) -> None:
        self._s.attachments[attachment.id] = copy.deepcopy(attachment)

    async def get(self, workspace_id: UUID, attachment_id: UUID) -> Attachment | None:
        found = self._s.attachments.get(attachment_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def get_for_update(self, workspace_id: UUID, attachment_id: UUID) -> Attachment | None:
        return await self.get(workspace_id, attachment_id)

    async def save(self, attachment: Attachment, expected_version: int) -> None:
        stored = self._s.attachments.get(attachment.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The attachment changed meanwhile.")
        self._s.attachments[attachment.id] = copy.deepcopy(attachment)

    async def remove(self, attachment: Attachment) -> None:
        self._s.attachments.pop(attachment.id, None)

    async def of_record(
        self, workspace_id: UUID, record_type: AttachedTo, record_id: UUID, page: PageRequest
    ) -> Page[Attachment]:
        record = (workspace_id, record_type, record_id)
        mine = [
            a
            for a in self._s.attachments.values()
            if (a.workspace_id, a.record_type, a.record_id) == record and a.ready
        ]
        newest_first = replace(page, order=SortOrder.NEWEST_FIRST)
        return keyset_page(mine, lambda a: (a.created_at, a.id), newest_first)

    async def any_of_record(
        self, workspace_id: UUID, record_type: AttachedTo, record_id: UUID, limit: int
    ) -> list[Attachment]:
        record = (workspace_id, record_type, record_id)
        found = [
            copy.deepcopy(a)
            for a in self._s.attachments.values()
            if (a.workspace_id, a.record_type, a.record_id) == record
        ]
        return sorted(found, key=lambda a: (a.created_at, a.id))[:limit]

    async def move(
        self, workspace_id: UUID, record_type: AttachedTo, source_id: UUID, target_id: UUID
    ) -> int:
        moved = 0
        for a in self._s.attachments.values():
            if (a.workspace_id, a.record_type, a.record_id) == (
                workspace_id,
                record_type,
                source_id,
            ):
                a.record_id, a.version = target_id, a.version + 1
                moved += 1
        return moved
