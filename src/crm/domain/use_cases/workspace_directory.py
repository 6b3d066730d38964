from __future__ import annotations

from crm.ports.system import Clock
from crm.ports.workspace_directory import WorkspaceDirectory, WorkspaceSummary


class ListAllWorkspaces:
    """Every workspace with its member count and usable API keys, oldest first: for the
    operator's command line, never an HTTP route (tenants see only their own)."""

    def __init__(self, directory: WorkspaceDirectory, clock: Clock) -> None:
        self._directory, self._clock = directory, clock

    async def execute(self) -> list[WorkspaceSummary]:
        return await self._directory.summaries(self._clock.now())
