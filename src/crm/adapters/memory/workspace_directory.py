"""The workspace directory over the in-memory state."""

from __future__ import annotations

import copy
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.state import MemoryStore
from crm.ports.workspace_directory import WorkspaceSummary


class InMemoryWorkspaceDirectory:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def summaries(self, now: datetime) -> list[WorkspaceSummary]:
        """Every workspace, oldest first, with its members and usable keys counted."""
        state = self._store.state
        members: dict[UUID, int] = {}
        for workspace_id, _ in state.members:
            members[workspace_id] = members.get(workspace_id, 0) + 1
        keys: dict[UUID, int] = {}
        for key in state.api_keys.values():
            if key.is_active and not key.is_expired(now):
                keys[key.workspace_id] = keys.get(key.workspace_id, 0) + 1
        workspaces = sorted(state.workspaces.values(), key=lambda w: (w.created_at, w.id))
        return [
            WorkspaceSummary(copy.copy(w), members.get(w.id, 0), keys.get(w.id, 0))
            for w in workspaces
        ]
