"""Merge moves and tombstones over `MemoryState`, behaving like the Postgres ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.domain.model.deal import LinkedObject
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import RecordType


class InMemoryMergeRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def move_contact_companies(
        self, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        links = self._s.company_links
        had_primary = any(
            link.is_primary
            for (w, ct, _), link in links.items()
            if (w, ct) == (workspace_id, survivor_id)
        )
        moved = 0
        for key in [k for k in links if k[:2] == (workspace_id, source_id)]:
            link = links.pop(key)
            primary = link.is_primary and not had_primary
            target = (workspace_id, survivor_id, link.company_id)
            kept = links.get(target)
            if kept is None:
                moved += 1
                links[target] = replace(link, contact_id=survivor_id, is_primary=primary)
            elif primary:
                links[target] = replace(kept, is_primary=True)
        return moved

    async def move_company_contacts(
        self, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        links = self._s.company_links
        moved = 0
        for key in [k for k in links if (k[0], k[2]) == (workspace_id, source_id)]:
            link = links.pop(key)
            target = (workspace_id, link.contact_id, survivor_id)
            kept = links.get(target)
            if kept is None:
                moved += 1
                links[target] = replace(link, company_id=survivor_id)
            elif link.is_primary:
                links[target] = replace(kept, is_primary=True)
        return moved

    async def move_deal_links(
        self, kind: LinkedObject, workspace_id: UUID, source_id: UUID, survivor_id: UUID
    ) -> int:
        links = self._s.deal_links
        moved = 0
        for key in [
            k for k in links if (k[0], k[1], k[3]) == (kind.value, workspace_id, source_id)
        ]:
            linked_at = links.pop(key)
            target = (kind.value, workspace_id, key[2], survivor_id)
            if target not in links:
                moved += 1
                links[target] = linked_at
        return moved

    async def move_notes(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        source_id: UUID,
        survivor_id: UUID,
        now: datetime,
    ) -> int:
        notes = self._s.notes
        about = (workspace_id, record_type, source_id)
        moving = [
            n for n in notes.values() if (n.workspace_id, n.record_type, n.record_id) == about
        ]
        for n in moving:
            notes[n.id] = replace(n, record_id=survivor_id, updated_at=now, version=n.version + 1)
        return len(moving)

    async def move_tasks(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        source_id: UUID,
        survivor_id: UUID,
        now: datetime,
    ) -> int:
        tasks = self._s.tasks
        about = (workspace_id, record_type, source_id)
        moving = [
            t for t in tasks.values() if (t.workspace_id, t.record_type, t.record_id) == about
        ]
        for t in moving:
            tasks[t.id] = replace(t, record_id=survivor_id, updated_at=now, version=t.version + 1)
        return len(moving)

    async def bury(self, tombstone: Tombstone) -> None:
        ws, kind = tombstone.workspace_id, tombstone.record_type
        graves = self._s.tombstones
        for key, grave in list(graves.items()):
            if key[:2] == (ws, kind) and grave.merged_into == tombstone.id:
                graves[key] = replace(grave, merged_into=tombstone.merged_into)
        graves[(ws, kind, tombstone.id)] = tombstone

    async def merged_into(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> UUID | None:
        return _merged_into(self._s, workspace_id, record_type, record_id)


class InMemoryTombstoneReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def merged_into(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> UUID | None:
        return _merged_into(self._store.state, workspace_id, record_type, record_id)


def _merged_into(
    s: MemoryState, workspace_id: UUID, record_type: RecordType, record_id: UUID
) -> UUID | None:
    grave = s.tombstones.get((workspace_id, record_type, record_id))
    return None if grave is None else grave.merged_into
