"""Task use cases: to-dos in the caller's workspace, optionally about a contact, company or deal.

A task about a record needs that record's read (to see) or write (to change) action; a task
about no record needs the contact actions. Members delete only tasks they created. When a
record is deleted its tasks stay, about no record (someone's work is not silently dropped)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput, InvalidQuery, TaskNotFound
from crm.domain.model.changes import FieldChange
from crm.domain.model.events import (
    DomainEvent,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskReopened,
    TaskUpdated,
)
from crm.domain.model.note import READ_ACTION, WRITE_ACTION, RecordType
from crm.domain.model.permissions import Action, PersonRequired, Principal
from crm.domain.model.snapshot import changes_payload, jsonable
from crm.domain.model.task import (
    DuePosition,
    Priority,
    Task,
    TaskFilter,
    TaskPage,
    parse_changes,
    parse_description,
    parse_due_at,
    parse_priority,
    parse_title,
)
from crm.domain.use_cases._shared import check_version, new_event
from crm.domain.use_cases.notes import check_record
from crm.ports.system import Clock, IdGenerator
from crm.ports.tasks import TaskReader
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

ME = "me"


@dataclass(frozen=True, slots=True)
class CreateTaskCommand:
    principal: Principal
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateTaskCommand:
    principal: Principal
    task_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class TaskCommand:
    """Delete, complete or reopen one task."""

    principal: Principal
    task_id: UUID
    if_match: int | None = None


def read_action(record_type: RecordType | None) -> Action:
    return Action.READ_CONTACTS if record_type is None else READ_ACTION[record_type]


def write_action(record_type: RecordType | None) -> Action:
    return Action.WRITE_CONTACTS if record_type is None else WRITE_ACTION[record_type]


class _Writer:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    def _event(
        self, kind: type[DomainEvent], who: Principal, task: Task, payload: dict[str, Any]
    ) -> DomainEvent:
        return new_event(self._ids, self._clock, kind, who, task.id, payload)


class CreateTask(_Writer):
    """Create a task; the assignee must be a member, the record (when named) must exist."""

    async def execute(self, cmd: CreateTaskCommand) -> Task:
        who, raw = cmd.principal, cmd.fields
        record_type, record_id = _record(raw.get("record_type"), raw.get("record_id"))
        who.require(write_action(record_type))
        now = self._clock.now()
        task = Task(
            id=self._ids.new_id(),
            workspace_id=who.workspace_id,
            title=parse_title(raw.get("title")),
            description=parse_description(raw.get("description")),
            due_at=parse_due_at(raw.get("due_at")),
            assignee_id=raw.get("assignee_id"),
            priority=parse_priority(raw.get("priority") or Priority.NORMAL),
            done_at=None,
            record_type=record_type,
            record_id=record_id,
            created_by=who.actor_id,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if record_type is not None and record_id is not None:
                await check_record(uow, who.workspace_id, record_type, record_id)
            await _check_assignee(uow, who, task.assignee_id)
            await uow.tasks.add(task)
            await uow.outbox.add([self._event(TaskCreated, who, task, snapshot(task))])
            await uow.commit()
        return task


class UpdateTask(_Writer):
    """Partially update a task (title, description, due_at, assignee_id, priority); null
    clears the optional ones; a stale If-Match fails. Completion has its own operations."""

    async def execute(self, cmd: UpdateTaskCommand) -> Task:
        who = cmd.principal
        changes = parse_changes(cmd.changes)
        async with self._uow() as uow:
            task = await _load(uow, who, cmd.task_id, cmd.if_match)
            version = task.version
            before = {name: getattr(task, name) for name in changes}
            changed = task.apply(changes, self._clock.now())
            if not changed:
                return task
            if "assignee_id" in changed:
                await _check_assignee(uow, who, task.assignee_id)
            await uow.tasks.save(task, expected_version=version)
            diff = {name: FieldChange(before[name], getattr(task, name)) for name in changed}
            payload = _where(task) | changes_payload(diff)
            await uow.outbox.add([self._event(TaskUpdated, who, task, payload)])
            await uow.commit()
        return task


class CompleteTask(_Writer):
    """Mark a task done; completing a done task changes nothing (its done_at stays)."""

    done = True

    async def execute(self, cmd: TaskCommand) -> Task:
        who = cmd.principal
        async with self._uow() as uow:
            task = await _load(uow, who, cmd.task_id, cmd.if_match)
            version = task.version
            if not task.set_done(self.done, self._clock.now()):
                return task
            await uow.tasks.save(task, expected_version=version)
            kind = TaskCompleted if self.done else TaskReopened
            payload = _where(task) | {"done_at": jsonable(task.done_at)}
            await uow.outbox.add([self._event(kind, who, task, payload)])
            await uow.commit()
        return task


class ReopenTask(CompleteTask):
    """Mark a done task open again; reopening an open task changes nothing."""

    done = False


class DeleteTask(_Writer):
    """Delete a task (members: only tasks they created)."""

    async def execute(self, cmd: TaskCommand) -> None:
        who = cmd.principal
        async with self._uow() as uow:
            task = await _load(uow, who, cmd.task_id, cmd.if_match)
            who.require_delete(task.created_by, write_action(task.record_type))
            await uow.tasks.remove(task)
            await uow.outbox.add([self._event(TaskDeleted, who, task, snapshot(task))])
            await uow.commit()


class GetTask:
    """Read one task of the caller's workspace."""

    def __init__(self, tasks: TaskReader) -> None:
        self._tasks = tasks

    async def execute(self, principal: Principal, task_id: UUID) -> Task:
        task = await self._tasks.get(principal.workspace_id, task_id)
        if task is None:
            raise TaskNotFound(f"No task {task_id} in this workspace.")
        principal.require(read_action(task.record_type))
        return task


class ListTasks:
    """List tasks, due time ascending (tasks without one last), keyset pages; tasks about a
    record type the caller may not read are left out. `assignee`
    is `me` (a signed-in person only: an API key gets 403 person_required) or a user id;
    `status` open or done; `record_type` with `record_id` keeps one record's tasks."""

    def __init__(self, tasks: TaskReader) -> None:
        self._tasks = tasks

    async def execute(
        self,
        principal: Principal,
        limit: int,
        after: DuePosition | None = None,
        assignee: str | None = None,
        status: str | None = None,
        record_type: RecordType | None = None,
        record_id: UUID | None = None,
    ) -> TaskPage:
        if (record_type is None) != (record_id is None):
            raise InvalidQuery(
                "record_type and record_id go together.",
                errors=(FieldError("record_id", "record_incomplete", "give both or neither"),),
            )
        principal.require(read_action(record_type))
        done = None if status is None else status == "done"
        where = TaskFilter(
            _assignee(principal, assignee), done, record_type, record_id, _hidden(principal)
        )
        return await self._tasks.list(principal.workspace_id, where, limit, after)


class ListMyTasks:
    """The caller's open tasks, overdue first: due time ascending, tasks without a due time
    last, then oldest first. Signed-in people only (an API key gets 403 person_required)."""

    def __init__(self, tasks: TaskReader) -> None:
        self._tasks = tasks

    async def execute(
        self, principal: Principal, limit: int, after: DuePosition | None = None
    ) -> TaskPage:
        principal.require(Action.READ_CONTACTS)
        where = TaskFilter(_assignee(principal, ME), done=False, hidden=_hidden(principal))
        return await self._tasks.list(principal.workspace_id, where, limit, after)


def _hidden(principal: Principal) -> tuple[RecordType, ...]:
    """Record types whose tasks the caller may not see (a key without their read scope)."""
    return tuple(t for t in RecordType if not principal.may(READ_ACTION[t]))


def _assignee(principal: Principal, assignee: str | None) -> UUID | None:
    if assignee is None:
        return None
    if assignee == ME:
        if not principal.is_person:
            raise PersonRequired("`me` names a signed-in person; an API key is not one.")
        return principal.actor_id
    try:
        return UUID(assignee)
    except ValueError as e:
        raise InvalidQuery(
            "assignee is `me` or a user id.",
            errors=(FieldError("assignee", "invalid_assignee", "`me` or a user id"),),
        ) from e


def _record(record_type: Any, record_id: Any) -> tuple[RecordType | None, UUID | None]:
    if record_type is None and record_id is None:
        return None, None
    if record_type is None or record_id is None:
        raise InvalidInput(
            "record_type and record_id go together.",
            errors=(FieldError("/record_id", "record_incomplete", "give both or neither"),),
        )
    return RecordType(record_type), record_id


async def _check_assignee(uow: UnitOfWork, who: Principal, assignee_id: UUID | None) -> None:
    if assignee_id is not None and await uow.members.get(who.workspace_id, assignee_id) is None:
        raise InvalidInput(
            "The assignee must be a member of the workspace.",
            errors=(
                FieldError("/assignee_id", "assignee_not_member", "not a member of the workspace"),
            ),
        )


async def _load(uow: UnitOfWork, who: Principal, task_id: UUID, if_match: int | None) -> Task:
    task = await uow.tasks.get_for_update(who.workspace_id, task_id)
    if task is None:
        raise TaskNotFound(f"No task {task_id} in this workspace.")
    who.require(write_action(task.record_type))
    check_version("task", if_match, task.version)
    return task


def _where(task: Task) -> dict[str, Any]:
    """The record a task is about (both null for none): its events concern that record."""
    return {"record_type": jsonable(task.record_type), "record_id": jsonable(task.record_id)}


def snapshot(task: Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "due_at": jsonable(task.due_at),
        "assignee_id": jsonable(task.assignee_id),
        "priority": task.priority.value,
        "done_at": jsonable(task.done_at),
        "record_type": jsonable(task.record_type),
        "record_id": jsonable(task.record_id),
        "created_by": str(task.created_by),
    }
