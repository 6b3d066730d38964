"""The background half of an import: read the file in chunks and write them through a batch.

Each import is an asyncio task of the process that took the upload, tracked here so that
stopping the process cancels it; a cancelled import is marked failed ("interrupted") and
the rows written so far stay written (the batch writes each row atomically).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from contextvars import Context
from dataclasses import replace
from typing import Any, Literal, Protocol, cast
from uuid import UUID

from crm.domain.errors import DomainError, DuplicateInBatch, PortError
from crm.domain.model.import_mapping import (
    ImportPlan,
    RowRejected,
    batch_mode,
    describe,
    rounds,
)
from crm.domain.model.imports import (
    INTERRUPTED,
    FailedRow,
    ImportCounts,
    ImportJob,
    ImportObject,
    ImportStatus,
)
from crm.domain.model.permissions import Principal
from crm.domain.use_cases.batch import BatchCommand, BatchOperation, ItemResult, ItemStatus
from crm.ports.imports import CsvFiles, CsvRecord, ImportJobs
from crm.ports.system import Clock

log = logging.getLogger("crm.imports")
CHUNK_ROWS = 500
MAX_RUNNING = 2
"""Imports one process runs at once; later ones stay queued, so that imports never take
every database connection and event loop turn from the requests the process serves."""
QUEUED_HEARTBEAT = 60.0
"""Seconds between the progress writes of a queued job (reads take a silent job for dead)."""


class Batch(Protocol):
    async def execute(self, cmd: BatchCommand) -> list[ItemResult]: ...


class ImportRunner:
    """Runs imports as tasks of this process; `stop` cancels them (marked interrupted)."""

    def __init__(
        self,
        jobs: ImportJobs,
        files: CsvFiles,
        batches: Mapping[ImportObject, Batch],
        clock: Clock,
        chunk_rows: int = CHUNK_ROWS,
        max_running: int = MAX_RUNNING,
    ) -> None:
        self._jobs, self._files, self._batches, self._clock = jobs, files, batches, clock
        self._chunk_rows = chunk_rows
        self._slots = asyncio.Semaphore(max_running)
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self._unstarted: dict[UUID, tuple[ImportJob, str]] = {}
        """Submitted imports whose task has not run yet: a cancel would skip their cleanup."""

    def submit(self, job: ImportJob, plan: ImportPlan, handle: str, who: Principal) -> None:
        """Start the import now, in the background."""
        self._unstarted[job.id] = (job, handle)
        # A context of its own: the request's (its idempotency transaction, which units of
        # work join, and its request id) ends with the request, the import does not.
        task = asyncio.create_task(
            self._run(job, plan, handle, who), name=f"import-{job.id}", context=Context()
        )
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))

    async def wait(self, job_id: UUID) -> None:
        """Until the import ends (for tests and the CLI; HTTP clients poll instead)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task])

    async def stop(self) -> None:
        """Cancel every running import; each is marked failed as interrupted."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job, handle in list(self._unstarted.values()):
            await self._end(job, handle, ImportStatus.FAILED, INTERRUPTED)
        self._unstarted.clear()

    async def _run(self, job: ImportJob, plan: ImportPlan, handle: str, who: Principal) -> None:
        self._unstarted.pop(job.id, None)
        status = ImportStatus.FAILED
        error: str | None = INTERRUPTED
        try:
            await self._queue(job)
            try:
                await self._import(job, plan, handle, who)
            finally:
                self._slots.release()
            status, error = ImportStatus.DONE, None
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("import %s failed", job.id)
            error = f"the import stopped: {_reason(e)}"
        finally:
            await self._end(job, handle, status, error)

    async def _queue(self, job: ImportJob) -> None:
        """Wait for a slot, telling readers now and then that the job is alive, only queued."""
        while True:
            try:
                await asyncio.wait_for(self._slots.acquire(), QUEUED_HEARTBEAT)
                return
            except TimeoutError:
                now = self._clock.now()
                await self._jobs.advance(job.workspace_id, job.id, ImportCounts(), [], now)

    async def _import(self, job: ImportJob, plan: ImportPlan, handle: str, who: Principal) -> None:
        ws, total = job.workspace_id, await self._files.count(handle)
        await self._jobs.start(ws, job.id, total, self._clock.now())
        async for records in self._files.records(handle, self._chunk_rows):
            counts, failed = await self._chunk(job, plan, records, who)
            await self._jobs.advance(ws, job.id, counts, failed, self._clock.now())

    async def _end(
        self, job: ImportJob, handle: str, status: ImportStatus, error: str | None
    ) -> None:
        try:
            await self._jobs.finish(job.workspace_id, job.id, status, self._clock.now(), error)
        except Exception:
            log.exception("import %s: its end could not be recorded", job.id)
        await self._files.discard(handle)

    async def _chunk(
        self, job: ImportJob, plan: ImportPlan, records: Sequence[CsvRecord], who: Principal
    ) -> tuple[ImportCounts, list[FailedRow]]:
        items, rows, failed = _mapped(plan, records)
        blank = sum(1 for record in records if record.blank)
        statuses = dict.fromkeys(ItemStatus, 0)
        results = await self._write(job, items, who) if items else []
        for result in results:
            statuses[result.status] += 1
            if result.status is ItemStatus.FAILED and result.error is not None:
                row, error = rows[result.index], result.error
                failed.append(FailedRow(row.line, error.code, describe(error), row.cells))
        failed.sort(key=lambda f: f.line)
        counts = ImportCounts(
            rows_done=len(records),
            created=statuses[ItemStatus.CREATED],
            updated=statuses[ItemStatus.UPDATED],
            unchanged=statuses[ItemStatus.UNCHANGED],
            skipped=statuses[ItemStatus.SKIPPED] + blank,
            failed=len(failed),
            skipped_blank=blank,
        )
        return counts, failed

    async def _write(
        self, job: ImportJob, items: list[dict[str, Any]], who: Principal
    ) -> list[ItemResult]:
        """Write the items in rounds without shared keys; an item a batch still finds a
        duplicate of an earlier one (keys equal only once normalized) goes to the next."""
        results: dict[int, ItemResult] = {}
        queue = deque(rounds(job.object_type, items))
        while queue:
            indices = queue.popleft()
            retry: list[int] = []
            for result in await self._batch(job, [items[i] for i in indices], who):
                original = indices[result.index]
                if result.error is not None and result.error.code == DuplicateInBatch.code:
                    retry.append(original)
                else:
                    results[original] = replace(result, index=original)
            if retry:
                queue.appendleft(retry)
        return [results[i] for i in range(len(items))]

    async def _batch(
        self, job: ImportJob, items: list[dict[str, Any]], who: Principal
    ) -> list[ItemResult]:
        operation, on_match = batch_mode(job.dedupe)
        cmd = BatchCommand(
            who,
            BatchOperation(operation),
            items,
            match_on=job.match_on,
            on_match=cast(Literal["update", "skip"], on_match),
        )
        try:
            return await self._batches[job.object_type].execute(cmd)
        except DomainError as e:
            # Refused as a whole (not per item): these rows fail with the reason, others go on.
            return [ItemResult(i, ItemStatus.FAILED, None, e) for i in range(len(items))]


def _mapped(
    plan: ImportPlan, records: Sequence[CsvRecord]
) -> tuple[list[dict[str, Any]], list[CsvRecord], list[FailedRow]]:
    """The items of the readable rows (with their records), and the rows that fail already;
    blank rows are neither."""
    items: list[dict[str, Any]] = []
    rows: list[CsvRecord] = []
    failed: list[FailedRow] = []
    for record in records:
        if record.blank:
            continue
        if record.problem is not None:
            failed.append(FailedRow(record.line, *record.problem, record.cells))
            continue
        try:
            items.append(plan.row(record.cells))
        except RowRejected as e:
            failed.append(FailedRow(record.line, e.code, e.message, record.cells))
            continue
        rows.append(record)
    return items, rows, failed


def _reason(error: Exception) -> str:
    if isinstance(error, DomainError):
        return error.detail
    if isinstance(error, PortError):
        return "a storage service is unavailable; import the remaining rows again"
    return "an internal error; import the remaining rows again"
