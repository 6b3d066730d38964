"""/v1/tasks: the inbound adapter for the task use cases."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.model.note import RecordType
from crm.domain.model.task import DuePosition, Task, TaskPage
from crm.domain.pagination import MAX_LIMIT
from crm.domain.use_cases.tasks import CreateTaskCommand, TaskCommand, UpdateTaskCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import tasks as s
from crm.entrypoints.api.views import json_response, versioned_response

READ = {"description": "The task", "headers": ETAG}
CREATED = {
    "description": "Created; `Location` names it and `ETag` carries its version",
    "headers": {
        **ETAG,
        "Location": {
            "description": "The new task's URL",
            "required": True,
            "schema": {"type": "string"},
        },
    },
}
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]
Assignee = Annotated[
    str | None,
    Query(max_length=36, description="`me` (signed-in people only) or a user id"),
]


def task_dict(t: Task) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "title": t.title,
        "description": t.description,
        "due_at": t.due_at,
        "assignee_id": None if t.assignee_id is None else str(t.assignee_id),
        "priority": t.priority.value,
        "done": t.is_done,
        "done_at": t.done_at,
        "record_type": None if t.record_type is None else t.record_type.value,
        "record_id": None if t.record_id is None else str(t.record_id),
        "created_by": str(t.created_by),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "version": t.version,
    }


def task_response(task: Task, status: int = 200, location: bool = False) -> Response:
    where = f"/v1/tasks/{task.id}" if location else None
    return versioned_response(task_dict(task), task.version, status, where)


def tasks_page(page: TaskPage) -> Response:
    cursor = None if page.next is None else page.next.encode()
    return json_response({"data": [task_dict(t) for t in page.items], "next_cursor": cursor})


def _after(cursor: str | None) -> DuePosition | None:
    return None if cursor is None else DuePosition.decode(cursor)


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/tasks", tags=["tasks"], route_class=LeanRoute)

    @r.post(
        "",
        status_code=201,
        response_model=s.Task,
        operation_id="createTask",
        summary="Create a task",
        description=c.create_task.__doc__,
        responses={**problems(400, 404, 413, 415, 422), 201: CREATED},
    )
    async def create_task(body: s.TaskCreate, request: Request) -> Response:
        cmd = CreateTaskCommand(principal(request), body.model_dump(exclude_unset=True))
        return task_response(await c.create_task.execute(cmd), 201, location=True)

    @r.get(
        "",
        response_model=s.TaskPage,
        operation_id="listTasks",
        summary="List tasks",
        description=c.list_tasks.__doc__,
        responses=problems(422),
    )
    async def list_tasks(
        request: Request,
        limit: Limit = 50,
        cursor: Cursor = None,
        assignee: Assignee = None,
        status: Literal["open", "done"] | None = None,
        record_type: s.RecordType | None = None,
        record_id: UUID | None = None,
    ) -> Response:
        kind = None if record_type is None else RecordType(record_type)
        found = await c.list_tasks.execute(
            principal(request), limit, _after(cursor), assignee, status, kind, record_id
        )
        return tasks_page(found)

    @r.get(
        "/mine",
        response_model=s.TaskPage,
        operation_id="listMyTasks",
        summary="List my open tasks, overdue first",
        description=c.list_my_tasks.__doc__,
        responses=problems(422),
    )
    async def list_my_tasks(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Response:
        return tasks_page(await c.list_my_tasks.execute(principal(request), limit, _after(cursor)))

    @r.get(
        "/{task_id}",
        response_model=s.Task,
        operation_id="getTask",
        summary="Get a task",
        description=c.get_task.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_task(task_id: UUID, request: Request) -> Response:
        return task_response(await c.get_task.execute(principal(request), task_id))

    @r.patch(
        "/{task_id}",
        response_model=s.Task,
        operation_id="updateTask",
        summary="Update a task",
        description=c.update_task.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def update_task(
        task_id: UUID, body: s.TaskUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateTaskCommand(principal(request), task_id, changes, parse_if_match(if_match))
        return task_response(await c.update_task.execute(cmd))

    @r.post(
        "/{task_id}/done",
        response_model=s.Task,
        operation_id="completeTask",
        summary="Mark a task done",
        description=c.complete_task.__doc__,
        responses={**problems(404, 409, 412, 422), 200: READ},
    )
    async def complete_task(task_id: UUID, request: Request, if_match: IfMatch = None) -> Response:
        cmd = TaskCommand(principal(request), task_id, parse_if_match(if_match))
        return task_response(await c.complete_task.execute(cmd))

    @r.post(
        "/{task_id}/undone",
        response_model=s.Task,
        operation_id="reopenTask",
        summary="Mark a task open again",
        description=c.reopen_task.__doc__,
        responses={**problems(404, 409, 412, 422), 200: READ},
    )
    async def reopen_task(task_id: UUID, request: Request, if_match: IfMatch = None) -> Response:
        cmd = TaskCommand(principal(request), task_id, parse_if_match(if_match))
        return task_response(await c.reopen_task.execute(cmd))

    @r.delete(
        "/{task_id}",
        status_code=204,
        operation_id="deleteTask",
        summary="Delete a task",
        description=c.delete_task.__doc__,
        responses=problems(404, 412, 422),
    )
    async def delete_task(task_id: UUID, request: Request, if_match: IfMatch = None) -> Response:
        cmd = TaskCommand(principal(request), task_id, parse_if_match(if_match))
        await c.delete_task.execute(cmd)
        return Response(status_code=204)

    return r
