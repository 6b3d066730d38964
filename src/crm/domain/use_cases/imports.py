"""CSV imports: start one (validated up front, then run in the background) and follow it."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from uuid import UUID

from crm.domain.errors import ImportNotFound
from crm.domain.model.import_mapping import ImportPlan
from crm.domain.model.imports import Dedupe, FailedRow, ImportJob, ImportObject
from crm.domain.model.permissions import Principal
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases.import_runner import CHUNK_ROWS, MAX_RUNNING, Batch, ImportRunner
from crm.ports.imports import CsvFiles, ImportJobs
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class StartImportCommand:
    principal: Principal
    object_type: ImportObject
    upload: AsyncIterable[bytes]
    file_name: str | None
    mapping: Mapping[str, str | None] | None = None
    dedupe: Dedupe = Dedupe.SKIP
    match_on: str | None = None


class StartImport:
    """Import the rows of a CSV file in the background: each row is created, updated or
    skipped by the dedupe rule, or fails alone with its reason; the mapping is checked first."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        files: CsvFiles,
        jobs: ImportJobs,
        runner: ImportRunner,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._files, self._jobs, self._runner = files, jobs, runner

    async def execute(self, cmd: StartImportCommand) -> ImportJob:
        who = cmd.principal
        who.require(cmd.object_type.write_action)
        handle = await self._files.keep(cmd.upload)
        try:
            header = await self._files.header(handle)
            async with self._uow() as uow:
                schema = await uow.custom_fields.schema(
                    who.workspace_id, cmd.object_type.object_type
                )
            plan = ImportPlan.build(
                cmd.object_type, header, cmd.mapping, schema, cmd.dedupe, cmd.match_on
            )
            job = ImportJob(
                id=self._ids.new_id(),
                workspace_id=who.workspace_id,
                object_type=cmd.object_type,
                dedupe=cmd.dedupe,
                match_on=plan.match_on,
                mapping=plan.mapping,
                columns=plan.columns,
                ignored_columns=plan.ignored_columns,
                file_name=cmd.file_name,
                created_by=who.actor_id,
                created_at=self._clock.now(),
            )
            await self._jobs.create(job)
        except BaseException:
            await self._files.discard(handle)
            raise
        self._runner.submit(job, plan, handle, who)
        return job


async def _job_for(jobs: ImportJobs, who: Principal, job_id: UUID) -> ImportJob:
    job = await jobs.get(who.workspace_id, job_id)
    if job is None:
        raise ImportNotFound(f"No import {job_id} in this workspace.")
    who.require(job.object_type.read_action)
    return job


class GetImport:
    """An import's status and progress: rows done of the total, created, updated, skipped
    and failed; readable from any API process while it runs and for 7 days after."""

    def __init__(self, jobs: ImportJobs, clock: Clock) -> None:
        self._jobs, self._clock = jobs, clock

    async def execute(self, who: Principal, job_id: UUID) -> ImportJob:
        return (await _job_for(self._jobs, who, job_id)).seen_at(self._clock.now())


class ListImports:
    """The workspace's imports, newest first, of the object types you may read; each is kept
    for 7 days after its last progress."""

    def __init__(self, jobs: ImportJobs, clock: Clock) -> None:
        self._jobs, self._clock = jobs, clock

    async def execute(self, who: Principal, page: PageRequest) -> Page[ImportJob]:
        if not any(who.may(kind.read_action) for kind in ImportObject):
            who.require(ImportObject.CONTACTS.read_action)
        found = await self._jobs.list_jobs(who.workspace_id, page)
        now = self._clock.now()
        readable = [j.seen_at(now) for j in found.items if who.may(j.object_type.read_action)]
        return Page(readable, found.next)


class GetImportFailedRows:
    """The rows an import could not write, as CSV: line in the file, reason code, message,
    then the row's original cells (the first 10,000 failed rows are kept)."""

    def __init__(self, jobs: ImportJobs) -> None:
        self._jobs = jobs

    async def execute(self, who: Principal, job_id: UUID) -> tuple[ImportJob, list[FailedRow]]:
        job = await _job_for(self._jobs, who, job_id)
        return job, await self._jobs.failed_rows(who.workspace_id, job_id)


@dataclass(frozen=True, slots=True)
class ImportUseCases:
    """Starting and reading imports, and the runner whose tasks write them."""

    start: StartImport
    get: GetImport
    list: ListImports
    failed_rows: GetImportFailedRows
    runner: ImportRunner

    @classmethod
    def build(
        cls,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        batches: Mapping[ImportObject, Batch],
        files: CsvFiles,
        jobs: ImportJobs,
        chunk_rows: int = CHUNK_ROWS,
        max_running: int = MAX_RUNNING,
    ) -> ImportUseCases:
        """Rows are written by `batches`, the same batch use cases the batch routes call."""
        runner = ImportRunner(jobs, files, batches, clock, chunk_rows, max_running)
        start = StartImport(uow, clock, ids, files, jobs, runner)
        reads = GetImport(jobs, clock), ListImports(jobs, clock), GetImportFailedRows(jobs)
        return cls(start, *reads, runner)
