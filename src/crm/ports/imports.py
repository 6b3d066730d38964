"""What CSV imports need from outside: the uploaded file, and job progress shared by processes."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from crm.domain.model.imports import FailedRow, ImportCounts, ImportJob, ImportStatus
from crm.domain.pagination import Page, PageRequest


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One record after the header: its first line in the file and its cells, or, when it
    could not be read, `problem` (code, message) and what was read of it; `blank` when it
    holds nothing but empty cells (the import skips it)."""

    line: int
    cells: tuple[str, ...]
    problem: tuple[str, str] | None = None
    blank: bool = False


class CsvFiles(Protocol):
    """Uploaded CSV files, kept until their import ends."""

    async def keep(self, chunks: AsyncIterable[bytes]) -> str:
        """Store an upload; returns the handle the other methods take."""

    async def header(self, handle: str) -> tuple[str, ...]:
        """The header row; InvalidInput at `/file` when the file is empty or not a CSV."""

    async def count(self, handle: str) -> int:
        """How many records follow the header (unreadable and blank ones included)."""

    def records(self, handle: str, size: int) -> AsyncIterator[list[CsvRecord]]:
        """The records after the header, `size` at a time, read as the file streams."""

    async def discard(self, handle: str) -> None: ...


class ImportJobs(Protocol):
    """Import jobs and their progress, per workspace, readable from every API process."""

    async def create(self, job: ImportJob) -> None: ...

    async def get(self, workspace_id: UUID, job_id: UUID) -> ImportJob | None: ...

    async def list_jobs(self, workspace_id: UUID, page: PageRequest) -> Page[ImportJob]:
        """The workspace's jobs still kept, newest first (by created_at, then id)."""

    async def start(self, workspace_id: UUID, job_id: UUID, rows_total: int, at: datetime) -> None:
        """Mark the job running with the number of rows it will go through."""

    async def advance(
        self,
        workspace_id: UUID,
        job_id: UUID,
        counts: ImportCounts,
        failed: Sequence[FailedRow],
        at: datetime,
    ) -> None:
        """Add one chunk's counts and keep its failed rows (up to the store's cap)."""

    async def finish(
        self,
        workspace_id: UUID,
        job_id: UUID,
        status: ImportStatus,
        at: datetime,
        error: str | None = None,
    ) -> None: ...

    async def failed_rows(self, workspace_id: UUID, job_id: UUID) -> list[FailedRow]:
        """The kept failed rows in file order (the first ones, up to the cap)."""
