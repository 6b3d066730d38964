"""Tasks over `MemoryState`, behaving like the Postgres ones."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.domain.errors import VersionConflict
from crm.domain.model.note import RecordType
from crm.domain.model.task import DuePosition, Task, TaskFilter, TaskPage, due_key


class InMemoryTaskRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, task: Task) -> None:
        self._s.tasks[task.id] = copy.deepcopy(task)

    async def get_for_update(self, workspace_id: UUID, task_id: UUID) -> Task | None:
        found = self._s.tasks.get(task_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def save(self, task: Task, expected_version: int) -> None:
        stored = self._s.tasks.get(task.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The task was changed by another writer.")
        self._s.tasks[task.id] = copy.deepcopy(task)

    async def remove(self, task: Task) -> None:
        self._s.tasks.pop(task.id, None)

    async def detach_record(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID, now: datetime
    ) -> None:
        for key, t in list(self._s.tasks.items()):
            if (t.workspace_id, t.record_type, t.record_id) == (
                workspace_id,
                record_type,
                record_id,
            ):
                self._s.tasks[key] = replace(
                    t, record_type=None, record_id=None, updated_at=now, version=t.version + 1
                )


def _matches(t: Task, workspace_id: UUID, where: TaskFilter) -> bool:
    return (
        t.workspace_id == workspace_id
        and (where.assignee_id is None or t.assignee_id == where.assignee_id)
        and (where.done is None or t.is_done == where.done)
        and (where.record_type is None or t.record_type == where.record_type)
        and (where.record_id is None or t.record_id == where.record_id)
        and (t.record_type is None or t.record_type not in where.hidden)
    )


class InMemoryTaskReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, task_id: UUID) -> Task | None:
        found = self._store.state.tasks.get(task_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def list(
        self, workspace_id: UUID, where: TaskFilter, limit: int, after: DuePosition | None
    ) -> TaskPage:
        rows = sorted(
            (t for t in self._store.state.tasks.values() if _matches(t, workspace_id, where)),
            key=lambda t: due_key(t.due_at, t.id),
        )
        if after is not None:
            mark = after.sort_key()
            rows = [t for t in rows if due_key(t.due_at, t.id) > mark]
        items = [copy.deepcopy(t) for t in rows[:limit]]
        more = len(rows) > limit
        return TaskPage(items, DuePosition.of(items[-1]) if more else None)
