"""Notes over `MemoryState`, behaving like the Postgres ones."""

from __future__ import annotations

import copy
from uuid import UUID

from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.domain.errors import VersionConflict
from crm.domain.model.note import Note, NotePage, NotePosition, RecordType


class InMemoryNoteRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, note: Note) -> None:
        self._s.notes[note.id] = copy.deepcopy(note)

    async def get_for_update(self, workspace_id: UUID, note_id: UUID) -> Note | None:
        found = self._s.notes.get(note_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def save(self, note: Note, expected_version: int) -> None:
        stored = self._s.notes.get(note.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The note was changed by another writer.")
        self._s.notes[note.id] = copy.deepcopy(note)

    async def remove(self, note: Note) -> None:
        self._s.notes.pop(note.id, None)

    async def remove_of_record(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID
    ) -> None:
        for key in [
            k
            for k, n in self._s.notes.items()
            if (n.workspace_id, n.record_type, n.record_id)
            == (workspace_id, record_type, record_id)
        ]:
            del self._s.notes[key]


class InMemoryNoteReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, note_id: UUID) -> Note | None:
        found = self._store.state.notes.get(note_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def of_record(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: NotePosition | None,
    ) -> NotePage | None:
        state = self._store.state
        records: dict[RecordType, dict[UUID, object]] = {
            RecordType.CONTACT: state.contacts,  # type: ignore[dict-item]
            RecordType.COMPANY: state.companies,  # type: ignore[dict-item]
            RecordType.DEAL: state.deals,  # type: ignore[dict-item]
        }
        record = records[record_type].get(record_id)
        if record is None or getattr(record, "workspace_id", None) != workspace_id:
            return None
        rows = sorted(
            (
                n
                for n in state.notes.values()
                if (n.workspace_id, n.record_type, n.record_id)
                == (workspace_id, record_type, record_id)
            ),
            key=lambda n: (n.pinned, n.created_at, n.id),
            reverse=True,
        )
        if after is not None:
            mark = (after.pinned, after.created_at, after.id)
            rows = [n for n in rows if (n.pinned, n.created_at, n.id) < mark]
        items = [copy.deepcopy(n) for n in rows[:limit]]
        more = len(rows) > limit
        return NotePage(items, NotePosition.of(items[-1]) if more else None)
