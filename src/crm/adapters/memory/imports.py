"""Import jobs in process memory: for tests and the zero-config local run (one process)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from crm.domain.model.imports import FailedRow, ImportCounts, ImportJob, ImportStatus
from crm.domain.pagination import Page, PageRequest, Position

MAX_FAILED_ROWS = 10_000


class InMemoryImportJobs:
    def __init__(self, max_failed_rows: int = MAX_FAILED_ROWS) -> None:
        self._jobs: dict[tuple[UUID, UUID], ImportJob] = {}
        self._failed: dict[tuple[UUID, UUID], list[FailedRow]] = {}
        self._max_failed = max_failed_rows

    async def create(self, job: ImportJob) -> None:
        """Keep a new job."""
        self._jobs[job.workspace_id, job.id] = job
        self._failed[job.workspace_id, job.id] = []

    async def get(self, workspace_id: UUID, job_id: UUID) -> ImportJob | None:
        """The job of this workspace, with how many failed rows are kept."""
        job = self._jobs.get((workspace_id, job_id))
        if job is None:
            return None
        return replace(job, failed_rows_kept=len(self._failed[workspace_id, job_id]))

    async def list_jobs(self, workspace_id: UUID, page: PageRequest) -> Page[ImportJob]:
        """The workspace's jobs, newest first."""
        mine = sorted(
            (job for (ws, _), job in self._jobs.items() if ws == workspace_id),
            key=lambda job: (job.created_at, job.id),
            reverse=True,
        )
        if page.after is not None:
            after = (page.after.created_at, page.after.id)
            mine = [job for job in mine if (job.created_at, job.id) < after]
        items = [await self.get(workspace_id, job.id) for job in mine[: page.limit]]
        last = items[-1] if len(mine) > page.limit and items else None
        return Page(
            [job for job in items if job is not None],
            None if last is None else Position(last.created_at, last.id),
        )

    async def start(self, workspace_id: UUID, job_id: UUID, rows_total: int, at: datetime) -> None:
        """Mark the job running."""
        self._change(
            workspace_id,
            job_id,
            status=ImportStatus.RUNNING,
            rows_total=rows_total,
            started_at=at,
            updated_at=at,
        )

    async def advance(
        self,
        workspace_id: UUID,
        job_id: UUID,
        counts: ImportCounts,
        failed: Sequence[FailedRow],
        at: datetime,
    ) -> None:
        """Add a chunk's counts; keep failed rows up to the cap."""
        job = self._jobs.get((workspace_id, job_id))
        if job is None:
            return
        kept = self._failed[workspace_id, job_id]
        kept.extend(failed[: max(0, self._max_failed - len(kept))])
        self._change(workspace_id, job_id, counts=job.counts + counts, updated_at=at)

    async def finish(
        self,
        workspace_id: UUID,
        job_id: UUID,
        status: ImportStatus,
        at: datetime,
        error: str | None = None,
    ) -> None:
        """Mark the job done or failed."""
        self._change(
            workspace_id, job_id, status=status, finished_at=at, updated_at=at, error=error
        )

    async def failed_rows(self, workspace_id: UUID, job_id: UUID) -> list[FailedRow]:
        """The kept failed rows, in file order."""
        return list(self._failed.get((workspace_id, job_id), ()))

    def _change(self, workspace_id: UUID, job_id: UUID, **values: object) -> None:
        job = self._jobs.get((workspace_id, job_id))
        if job is not None:
            self._jobs[workspace_id, job_id] = replace(job, **values)  # type: ignore[arg-type]
