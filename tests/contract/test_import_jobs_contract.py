"""One contract for the ImportJobs port, run against the in-memory and the Redis adapters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from crm.adapters.memory.imports import InMemoryImportJobs
from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.imports import RedisImportJobs
from crm.domain.model.imports import (
    Dedupe,
    FailedRow,
    ImportCounts,
    ImportJob,
    ImportObject,
    ImportStatus,
)
from crm.domain.pagination import PageRequest
from crm.ports.imports import ImportJobs
from tests.support.servers import redis_server_url

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
MakeJobs = Callable[[int], ImportJobs]


def new_job(workspace_id: uuid.UUID | None = None, created_at: datetime = NOW) -> ImportJob:
    return ImportJob(
        id=uuid.uuid4(),
        workspace_id=workspace_id or uuid.uuid4(),
        object_type=ImportObject.CONTACTS,
        dedupe=Dedupe.UPDATE,
        match_on="email",
        mapping={"E-mail": "emails", "Tier": "custom_fields.tier"},
        columns=("E-mail", "Tier", "Notes"),
        ignored_columns=("Notes",),
        file_name="leads ü.csv",
        created_by=uuid.uuid4(),
        created_at=created_at,
    )


def failed(line: int) -> FailedRow:
    return FailedRow(line, "validation_failed", f'row {line}: bad, "quoted"', ("x", "ü", ""))


class ImportJobsContract:
    """Each subclass provides `make_jobs` for its adapter, from the fixtures that adapter needs."""

    async def test_a_created_job_reads_back_queued_with_zero_counts(
        self, make_jobs: MakeJobs
    ) -> None:
        jobs, job = make_jobs(100), new_job()
        await jobs.create(job)
        read = await jobs.get(job.workspace_id, job.id)
        assert read == job
        assert read is not None
        assert read.counts == ImportCounts()

    async def test_another_workspace_or_id_finds_nothing(self, make_jobs: MakeJobs) -> None:
        jobs, job = make_jobs(100), new_job()
        await jobs.create(job)
        assert await jobs.get(uuid.uuid4(), job.id) is None
        assert await jobs.get(job.workspace_id, uuid.uuid4()) is None
        assert await jobs.failed_rows(uuid.uuid4(), job.id) == []

    async def test_start_advance_finish_add_up(self, make_jobs: MakeJobs) -> None:
        jobs, job = make_jobs(100), new_job()
        await jobs.create(job)
        await jobs.start(job.workspace_id, job.id, 5, NOW + timedelta(seconds=1))
        await jobs.advance(
            job.workspace_id, job.id, ImportCounts(3, 1, 1, 0, 0, 1), [failed(2)], NOW
        )
        later = NOW + timedelta(seconds=3)
        await jobs.advance(
            job.workspace_id, job.id, ImportCounts(2, 0, 0, 1, 0, 1), [failed(6)], later
        )
        running = await jobs.get(job.workspace_id, job.id)
        assert running is not None
        assert (running.status, running.rows_total) == (ImportStatus.RUNNING, 5)
        assert running.counts == ImportCounts(5, 1, 1, 1, 0, 2)
        assert (running.started_at, running.updated_at) == (NOW + timedelta(seconds=1), later)
        await jobs.finish(job.workspace_id, job.id, ImportStatus.DONE, later)
        done = await jobs.get(job.workspace_id, job.id)
        assert done is not None
        assert (done.status, done.finished_at, done.error) == (ImportStatus.DONE, later, None)
        assert await jobs.failed_rows(job.workspace_id, job.id) == [failed(2), failed(6)]

    async def test_a_failed_job_keeps_its_error(self, make_jobs: MakeJobs) -> None:
        jobs, job = make_jobs(100), new_job()
        await jobs.create(job)
        await jobs.finish(job.workspace_id, job.id, ImportStatus.FAILED, NOW, "interrupted")
        found = await jobs.get(job.workspace_id, job.id)
        assert found is not None
        assert (found.status, found.error) == (ImportStatus.FAILED, "interrupted")

    async def test_failed_rows_are_capped_keeping_the_first_and_counting_the_rest(
        self, make_jobs: MakeJobs
    ) -> None:
        jobs, job = make_jobs(3), new_job()
        await jobs.create(job)
        for lines in ([2, 3], [4, 5], [6]):
            counts = ImportCounts(rows_done=len(lines), failed=len(lines))
            await jobs.advance(job.workspace_id, job.id, counts, [failed(n) for n in lines], NOW)
        assert await jobs.failed_rows(job.workspace_id, job.id) == [failed(2), failed(3), failed(4)]
        found = await jobs.get(job.workspace_id, job.id)
        assert found is not None
        assert (found.counts.failed, found.failed_rows_kept, found.failed_rows_dropped) == (5, 3, 2)

    async def test_a_workspace_lists_its_own_jobs_newest_first_a_page_at_a_time(
        self, make_jobs: MakeJobs
    ) -> None:
        jobs, workspace = make_jobs(100), uuid.uuid4()
        times = [NOW + timedelta(seconds=n // 2, microseconds=n % 2) for n in range(5)]
        times.append(times[-1])  # two jobs created at the same instant: the id decides
        mine = [new_job(workspace, at) for at in times]
        for job in [*mine, new_job(), new_job()]:
            await jobs.create(job)
        await jobs.advance(workspace, mine[0].id, ImportCounts(1, failed=1), [failed(2)], NOW)
        expected = sorted(mine, key=lambda j: (j.created_at, j.id), reverse=True)
        seen, page = [], PageRequest(limit=4)
        while True:
            found = await jobs.list_jobs(workspace, page)
            seen += found.items
            if found.next is None:
                break
            page = PageRequest(limit=4, after=found.next)
        assert [j.id for j in seen] == [j.id for j in expected]
        oldest = seen[-1]
        assert (oldest.counts.failed, oldest.failed_rows_kept) == (1, 1)
        assert seen[0] == await jobs.get(workspace, seen[0].id)
        exact = await jobs.list_jobs(workspace, PageRequest(limit=6))
        assert (len(exact.items), exact.next) == (6, None)
        assert (await jobs.list_jobs(uuid.uuid4(), PageRequest())).items == []


class TestInMemoryImportJobs(ImportJobsContract):
    @pytest.fixture
    def make_jobs(self) -> MakeJobs:
        return lambda cap: InMemoryImportJobs(max_failed_rows=cap)


class TestRedisImportJobs(ImportJobsContract):
    @pytest.fixture
    def prefix(self) -> str:
        return f"crm:test:import:{uuid.uuid4().hex}:"

    @pytest_asyncio.fixture
    async def make_jobs(self, prefix: str) -> AsyncIterator[MakeJobs]:
        made: list[RedisImportJobs] = []

        def make(cap: int) -> ImportJobs:
            made.append(
                RedisImportJobs(
                    build_redis_client(redis_server_url()), prefix=prefix, max_failed_rows=cap
                )
            )
            return made[-1]

        yield make
        cleanup = build_redis_client(redis_server_url())
        keys = [k async for k in cleanup.scan_iter(match=prefix + "*")]
        if keys:
            await cleanup.delete(*keys)
        await cleanup.aclose()
        for jobs in made:
            await jobs.close()

    async def test_keys_are_namespaced_per_workspace_and_expire(self, prefix: str) -> None:
        client = build_redis_client(redis_server_url())
        jobs = RedisImportJobs(client, prefix=prefix, ttl=timedelta(hours=1))
        job = new_job()
        await jobs.create(job)
        await jobs.advance(job.workspace_id, job.id, ImportCounts(1, failed=1), [failed(2)], NOW)
        key = f"{prefix}{job.workspace_id}:{job.id}"
        assert 3500 < await client.ttl(key) <= 3600
        assert 3500 < await client.ttl(key + ":failed") <= 3600
        await client.delete(key, key + ":failed")
        await jobs.close()

    async def test_the_index_forgets_expired_jobs(self, prefix: str) -> None:
        client = build_redis_client(redis_server_url())
        jobs = RedisImportJobs(client, prefix=prefix, ttl=timedelta(days=1))
        workspace = uuid.uuid4()
        old = new_job(workspace, NOW - timedelta(days=2))
        gone = new_job(workspace, NOW - timedelta(hours=1))
        fresh = new_job(workspace, NOW)
        for job in (old, gone):
            await jobs.create(job)
        await client.delete(f"{prefix}{workspace}:{gone.id}")  # its hash expired
        await jobs.create(fresh)  # trims index members older than the TTL
        assert [j.id for j in (await jobs.list_jobs(workspace, PageRequest())).items] == [fresh.id]
        assert await client.zcard(f"{prefix}{workspace}:jobs") == 2
        await jobs.close()
