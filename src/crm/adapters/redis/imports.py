"""Import jobs in Redis, so every API process answers for a job whichever one runs it.

One hash per job (`crm:import:{workspace}:{job}`) whose counters move with HINCRBY once per
chunk, and one list of failed rows beside it (`...:failed`), capped at `max_failed_rows`
(the first ones are kept). Both expire `ttl` after the last change: job status is
short-lived state, not a record. A sorted set per workspace (`crm:import:{workspace}:jobs`)
lists its jobs by `<created_at>|<id>` (one score, so ordered by member: a keyset read with
ZREVRANGEBYLEX); members older than `ttl` are trimmed as jobs are created.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crm.domain.errors import ServiceUnavailable
from crm.domain.model.imports import (
    Dedupe,
    FailedRow,
    ImportCounts,
    ImportJob,
    ImportObject,
    ImportStatus,
)
from crm.domain.pagination import Page, PageRequest, Position

T = TypeVar("T")
Fields = dict[Any, Any]
"""A hash's fields as redis-py takes them (its key type is a union mypy will not widen to)."""
MAX_FAILED_ROWS = 10_000
TTL = timedelta(days=7)
_COUNTERS = tuple(ImportCounts.__dataclass_fields__)
_FAILURES = (RedisError, OSError, TimeoutError)
_STAMP = "%Y-%m-%dT%H:%M:%S.%f"


class RedisImportJobs:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "crm:import:",
        ttl: timedelta = TTL,
        max_failed_rows: int = MAX_FAILED_ROWS,
    ) -> None:
        self._client, self._prefix, self._max_failed = client, prefix, max_failed_rows
        self._ttl = int(ttl.total_seconds())

    def _key(self, workspace_id: UUID, job_id: UUID) -> str:
        return f"{self._prefix}{workspace_id}:{job_id}"

    def _index(self, workspace_id: UUID) -> str:
        return f"{self._prefix}{workspace_id}:jobs"

    async def create(self, job: ImportJob) -> None:
        """Store a new job's hash and list it in its workspace's index."""
        key, index = self._key(job.workspace_id, job.id), self._index(job.workspace_id)
        fields: Fields = {**_encode(job), **dict.fromkeys(_COUNTERS, 0)}
        expired = job.created_at - timedelta(seconds=self._ttl)

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.expire(key, self._ttl)
                pipe.zadd(index, {_member(job.created_at, job.id): 0})
                pipe.zremrangebylex(index, "-", "(" + _stamp(expired))
                pipe.expire(index, self._ttl)
                await pipe.execute()

        await _guarded(run)

    async def get(self, workspace_id: UUID, job_id: UUID) -> ImportJob | None:
        """The job and the number of failed rows kept, in one round trip."""
        key = self._key(workspace_id, job_id)

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hgetall(key)
                pipe.llen(key + ":failed")
                return await pipe.execute()

        raw, kept = await _guarded(run)
        if not raw:
            return None
        return _decode({k.decode(): v.decode() for k, v in raw.items()}, int(kept))

    async def list_jobs(self, workspace_id: UUID, page: PageRequest) -> Page[ImportJob]:
        """A keyset page of the index, then every job of it in one round trip (a job whose
        hash expired is left out)."""
        top = "+" if page.after is None else "(" + _member(page.after.created_at, page.after.id)
        index = self._index(workspace_id)
        found = await _guarded(
            lambda: self._client.zrevrangebylex(index, top, "-", start=0, num=page.limit + 1)
        )
        members = [m.decode() if isinstance(m, bytes) else m for m in found[: page.limit]]
        keys = [self._key(workspace_id, UUID(m.split("|")[1])) for m in members]

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                    pipe.llen(key + ":failed")
                return await pipe.execute()

        replies = await _guarded(run) if keys else []
        jobs = [
            _decode({k.decode(): v.decode() for k, v in raw.items()}, int(kept))
            for raw, kept in zip(replies[::2], replies[1::2], strict=True)
            if raw
        ]
        more = len(found) > page.limit
        return Page(jobs, _position(members[-1]) if more else None)

    async def start(self, workspace_id: UUID, job_id: UUID, rows_total: int, at: datetime) -> None:
        """Mark the job running."""
        values: Fields = {"status": ImportStatus.RUNNING.value, "rows_total": rows_total}
        await self._set(workspace_id, job_id, {**values, "started_at": _time(at)}, at)

    async def advance(
        self,
        workspace_id: UUID,
        job_id: UUID,
        counts: ImportCounts,
        failed: Sequence[FailedRow],
        at: datetime,
    ) -> None:
        """One transaction: HINCRBY each counter, push the failed rows, trim to the cap."""
        key = self._key(workspace_id, job_id)
        rows = [json.dumps([r.line, r.code, r.message, list(r.cells)]) for r in failed]

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                for name, value in counts.as_dict().items():
                    if value:
                        pipe.hincrby(key, name, value)
                pipe.hset(key, "updated_at", _time(at))
                if rows:
                    pipe.rpush(key + ":failed", *rows)
                    pipe.ltrim(key + ":failed", 0, self._max_failed - 1)
                pipe.expire(key, self._ttl)
                pipe.expire(key + ":failed", self._ttl)
                await pipe.execute()

        await _guarded(run)

    async def finish(
        self,
        workspace_id: UUID,
        job_id: UUID,
        status: ImportStatus,
        at: datetime,
        error: str | None = None,
    ) -> None:
        """Mark the job done or failed."""
        values: Fields = {"status": status.value, "finished_at": _time(at), "error": error or ""}
        await self._set(workspace_id, job_id, values, at)

    async def failed_rows(self, workspace_id: UUID, job_id: UUID) -> list[FailedRow]:
        """The kept failed rows, in file order."""
        key = self._key(workspace_id, job_id) + ":failed"
        raw = await _guarded(lambda: self._client.lrange(key, 0, -1))
        rows = [json.loads(item) for item in raw]
        return [FailedRow(line, code, message, tuple(cells)) for line, code, message, cells in rows]

    async def _set(self, workspace_id: UUID, job_id: UUID, values: Fields, at: datetime) -> None:
        key = self._key(workspace_id, job_id)

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={**values, "updated_at": _time(at)})
                pipe.expire(key, self._ttl)
                await pipe.execute()

        await _guarded(run)

    async def close(self) -> None:
        await self._client.aclose()


async def _guarded(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except _FAILURES as e:
        raise ServiceUnavailable(f"Redis: {e}") from e


def _time(at: datetime | None) -> str:
    return "" if at is None else at.isoformat()


def _encode(job: ImportJob) -> Fields:
    return {
        "id": str(job.id),
        "workspace_id": str(job.workspace_id),
        "object_type": job.object_type.value,
        "dedupe": job.dedupe.value,
        "match_on": job.match_on or "",
        "mapping": json.dumps(dict(job.mapping)),
        "columns": json.dumps(list(job.columns)),
        "ignored_columns": json.dumps(list(job.ignored_columns)),
        "file_name": json.dumps(job.file_name),
        "created_by": str(job.created_by),
        "created_at": _time(job.created_at),
        "status": job.status.value,
        "rows_total": "" if job.rows_total is None else job.rows_total,
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "updated_at": _time(job.updated_at),
        "error": job.error or "",
    }


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_STAMP)


def _member(at: datetime, job_id: UUID) -> str:
    """The index member: fixed-width UTC time then id, so that text order is time order."""
    return f"{_stamp(at)}|{job_id}"


def _position(member: str) -> Position:
    stamp, job_id = member.split("|")
    return Position(datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC), UUID(job_id))


def _when(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _decode(h: dict[str, str], kept: int) -> ImportJob:
    created_at = _when(h["created_at"])
    assert created_at is not None  # noqa: S101 - written by create()
    return ImportJob(
        id=UUID(h["id"]),
        workspace_id=UUID(h["workspace_id"]),
        object_type=ImportObject(h["object_type"]),
        dedupe=Dedupe(h["dedupe"]),
        match_on=h["match_on"] or None,
        mapping=json.loads(h["mapping"]),
        columns=tuple(json.loads(h["columns"])),
        ignored_columns=tuple(json.loads(h["ignored_columns"])),
        file_name=json.loads(h["file_name"]),
        created_by=UUID(h["created_by"]),
        created_at=created_at,
        status=ImportStatus(h["status"]),
        rows_total=int(h["rows_total"]) if h["rows_total"] else None,
        counts=ImportCounts(*(int(h.get(name, 0)) for name in _COUNTERS)),
        failed_rows_kept=kept,
        started_at=_when(h["started_at"]),
        finished_at=_when(h["finished_at"]),
        updated_at=_when(h["updated_at"]),
        error=h["error"] or None,
    )
