"""The workspace directory on the read pool: one statement, the counts as subqueries."""

from __future__ import annotations

from datetime import datetime

from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.workspace import Workspace
from crm.ports.workspace_directory import WorkspaceSummary

_SUMMARIES = """
SELECT w.id, w.name, w.created_at,
    (SELECT count(*) FROM member m WHERE m.workspace_id = w.id) AS members,
    (SELECT count(*) FROM api_key k WHERE k.workspace_id = w.id AND k.revoked_at IS NULL
        AND (k.expires_at IS NULL OR k.expires_at > $1)) AS api_keys
FROM workspace w
ORDER BY w.created_at, w.id
"""


class AsyncpgWorkspaceDirectory:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def summaries(self, now: datetime) -> list[WorkspaceSummary]:
        """Every workspace, oldest first, with its members and usable keys counted."""
        rows = await self._pool.fetch(_SUMMARIES, now)
        return [
            WorkspaceSummary(
                Workspace(r["id"], r["name"], r["created_at"]), r["members"], r["api_keys"]
            )
            for r in rows
        ]
