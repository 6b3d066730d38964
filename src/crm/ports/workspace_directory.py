"""Every workspace of the installation, for operators (the `crm workspace list` command)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from crm.domain.model.workspace import Workspace


@dataclass(frozen=True, slots=True)
class WorkspaceSummary:
    workspace: Workspace
    members: int
    api_keys: int
    """Keys usable now: neither revoked nor expired."""


class WorkspaceDirectory(Protocol):
    async def summaries(self, now: datetime) -> list[WorkspaceSummary]:
        """Every workspace, oldest first, with its member count and its keys usable at `now`."""
