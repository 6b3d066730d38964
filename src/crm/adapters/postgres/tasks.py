"""Tasks in the unit of work (SQLAlchemy Core) and their reads on the asyncpg pool."""

from __future__ import annotations

import builtins
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.readers import ReadPool
from crm.domain.errors import VersionConflict
from crm.domain.model.note import RecordType
from crm.domain.model.task import DuePosition, Priority, Task, TaskFilter, TaskPage

_t = t.task.c
_COLUMNS = (
    "id, workspace_id, title, description, due_at, assignee_id, priority, done_at, "
    "record_type, record_id, created_by, created_at, updated_at, version"
)
_UPDATE = (
    update(t.task)
    .where(_t.id == bindparam("match_id"), _t.version == bindparam("match_version"))
    .returning(_t.id)
)


def task_to_row(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "workspace_id": task.workspace_id,
        "title": task.title,
        "description": task.description,
        "due_at": task.due_at,
        "assignee_id": task.assignee_id,
        "priority": task.priority.value,
        "done_at": task.done_at,
        "record_type": None if task.record_type is None else task.record_type.value,
        "record_id": task.record_id,
        "created_by": task.created_by,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "version": task.version,
    }


def task_to_domain(r: Any) -> Task:
    return Task(
        id=r["id"],
        workspace_id=r["workspace_id"],
        title=r["title"],
        description=r["description"],
        due_at=r["due_at"],
        assignee_id=r["assignee_id"],
        priority=Priority(r["priority"]),
        done_at=r["done_at"],
        record_type=None if r["record_type"] is None else RecordType(r["record_type"]),
        record_id=r["record_id"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


class SqlTaskRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, task: Task) -> None:
        await self._conn.execute(t.task.insert(), task_to_row(task))

    async def get_for_update(self, workspace_id: UUID, task_id: UUID) -> Task | None:
        query = (
            select(t.task)
            .where(_t.workspace_id == workspace_id, _t.id == task_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return task_to_domain(row) if row else None

    async def save(self, task: Task, expected_version: int) -> None:
        values = {**task_to_row(task), "match_id": task.id, "match_version": expected_version}
        if (await self._conn.execute(_UPDATE, values)).one_or_none() is None:
            raise VersionConflict("The task was changed by another writer.")

    async def remove(self, task: Task) -> None:
        await self._conn.execute(delete(t.task).where(_t.id == task.id))

    async def detach_record(
        self, workspace_id: UUID, record_type: RecordType, record_id: UUID, now: datetime
    ) -> None:
        await self._conn.execute(
            update(t.task)
            .where(
                _t.workspace_id == workspace_id,
                _t.record_type == record_type.value,
                _t.record_id == record_id,
            )
            .values(record_type=None, record_id=None, updated_at=now, version=_t.version + 1)
        )


# Assembled from constants only; values are bound.
_GET = f"SELECT {_COLUMNS} FROM task WHERE workspace_id = $1 AND id = $2"  # noqa: S608


@cache
def _list_sql(
    keyset: str | None, assignee: bool, done: bool | None, record: bool, hidden: bool
) -> str:
    """`$1` workspace, `$2` limit, then in order: the keyset (`due`: $due_at, $id; `none`:
    $id), assignee, record type and id, hidden record types. Due time ascending with none
    last, then id."""
    where, n = ["workspace_id = $1"], 3
    if keyset == "due":
        where.append(f"((due_at, id) > (${n}, ${n + 1}) OR due_at IS NULL)")
        n += 2
    elif keyset == "none":
        where.append(f"(due_at IS NULL AND id > ${n})")
        n += 1
    if assignee:
        where.append(f"assignee_id = ${n}")
        n += 1
    if done is not None:
        where.append("done_at IS NOT NULL" if done else "done_at IS NULL")
    if record:
        where.append(f"record_type = ${n} AND record_id = ${n + 1}")
        n += 2
    if hidden:
        where.append(f"(record_type IS NULL OR record_type <> ALL(${n}::text[]))")
    return (
        f"SELECT {_COLUMNS} FROM task WHERE {' AND '.join(where)}"  # noqa: S608
        " ORDER BY due_at ASC NULLS LAST, id ASC LIMIT $2"
    )


class AsyncpgTaskReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, task_id: UUID) -> Task | None:
        row = await self._pool.fetchrow(_GET, workspace_id, task_id)
        return task_to_domain(row) if row else None

    async def list(
        self, workspace_id: UUID, where: TaskFilter, limit: int, after: DuePosition | None
    ) -> TaskPage:
        args: builtins.list[object] = []
        keyset = None
        if after is not None:
            keyset = "none" if after.due_at is None else "due"
            args += [after.id] if after.due_at is None else [after.due_at, after.id]
        if where.assignee_id is not None:
            args.append(where.assignee_id)
        record = where.record_type is not None and where.record_id is not None
        if where.record_type is not None and where.record_id is not None:
            args += [where.record_type.value, where.record_id]
        if where.hidden:
            args.append([t.value for t in where.hidden])
        query = _list_sql(
            keyset, where.assignee_id is not None, where.done, record, bool(where.hidden)
        )
        rows = await self._pool.fetch(query, workspace_id, limit + 1, *args)
        items = [task_to_domain(r) for r in rows[:limit]]
        more = len(rows) > limit
        return TaskPage(items, DuePosition.of(items[-1]) if more else None)
