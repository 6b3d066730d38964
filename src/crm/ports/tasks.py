"""Ports of the task slice."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from crm.domain.model.note import RecordType
from crm.domain.model.task import DuePosition, Task, TaskFilter, TaskPage


class TaskRepository(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get_for_update(self, workspace_id: UUID, task_id: UUID) -> Task | None:
        """Load and lock the task until the unit of work ends."""

    async def save(self, task: Task, expected_version: int) -> None:
        """Write changes; VersionConflict if the stored version moved on."""

    async def remove(self, task: Task) -> None: ...

    async def detach_record(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID, now: datetime
    ) -> None:
        """The record is being deleted: its tasks stay, about no record (a new version)."""


class TaskReader(Protocol):
    """Reads outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, task_id: UUID) -> Task | None: ...

    async def list(
        self, workspace_id: UUID, where: TaskFilter, limit: int, after: DuePosition | None
    ) -> TaskPage:
        """Tasks matching `where`, due time ascending (none last), then id."""
