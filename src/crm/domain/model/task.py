"""Tasks: work someone should do (title, optional due time, assignee, priority), optionally
about a contact, company or deal; done or open."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidCursor, InvalidInput
from crm.domain.model.instant import RANGE, in_utc
from crm.domain.model.note import RecordType
from crm.domain.pagination import cursor_time, pack_cursor, unpack_cursor

MAX_TITLE = 300
MAX_DESCRIPTION = 10_000


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


def _invalid(field: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(f"Invalid {field}.", errors=(FieldError(f"/{field}", code, message),))


def parse_title(value: Any) -> str:
    title = value.strip() if isinstance(value, str) else ""
    if not title or len(title) > MAX_TITLE:
        raise _invalid("title", "invalid_title", f"1 to {MAX_TITLE} characters")
    return title


def parse_description(value: Any) -> str | None:
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else None
    if text is None or len(text) > MAX_DESCRIPTION:
        raise _invalid("description", "invalid_description", f"at most {MAX_DESCRIPTION} chars")
    return text or None


def parse_due_at(value: Any) -> datetime | None:
    if value is None:
        return None
    due_at = in_utc(value) if isinstance(value, datetime) else None
    if due_at is None:
        raise _invalid("due_at", "invalid_due_at", f"a date-time with a time zone offset, {RANGE}")
    return due_at


def parse_priority(value: Any) -> Priority:
    try:
        return Priority(value)
    except ValueError as e:
        raise _invalid("priority", "invalid_priority", "low, normal or high") from e


@dataclass(slots=True)
class Task:
    id: UUID
    workspace_id: UUID
    title: str
    description: str | None
    due_at: datetime | None
    assignee_id: UUID | None
    priority: Priority
    done_at: datetime | None
    record_type: RecordType | None
    record_id: UUID | None
    created_by: UUID
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def apply(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Apply parsed `changes` (title, description, due_at, assignee_id, priority); the
        names of the fields that changed."""
        changed = [name for name, value in changes.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, changes[name])
        if changed:
            self.touch(now)
        return changed

    def set_done(self, done: bool, now: datetime) -> bool:
        """Mark done (keeping the first completion time) or open again; whether it changed."""
        if done == self.is_done:
            return False
        self.done_at = now if done else None
        self.touch(now)
        return True

    def touch(self, now: datetime) -> None:
        self.updated_at, self.version = now, self.version + 1


def parse_changes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The writable fields of a partial update, parsed (null clears all but title, priority)."""
    parsers = {
        "title": parse_title,
        "description": parse_description,
        "due_at": parse_due_at,
        "priority": parse_priority,
    }
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name in parsers:
            out[name] = parsers[name](value)
        elif name == "assignee_id":
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class DuePosition:
    """Where a page of tasks ends: due time first (no due time last), then id."""

    due_at: datetime | None
    id: UUID

    def encode(self) -> str:
        due = None if self.due_at is None else self.due_at.isoformat()
        return pack_cursor("task", due, str(self.id))

    @classmethod
    def decode(cls, cursor: str) -> DuePosition:
        def parse(parts: list[Any]) -> tuple[str, DuePosition]:
            kind, due, id_ = parts
            return kind, cls(None if due is None else cursor_time(due), UUID(id_))

        kind, position = unpack_cursor(cursor, parse)
        if kind != "task" or (position.due_at is not None and position.due_at.tzinfo is None):
            raise InvalidCursor("The cursor belongs to another list; start from the first page.")
        return position

    @classmethod
    def of(cls, task: Task) -> DuePosition:
        return cls(task.due_at, task.id)

    def sort_key(self) -> tuple[bool, datetime | None, UUID]:
        return due_key(self.due_at, self.id)


def due_key(due_at: datetime | None, id_: UUID) -> tuple[bool, Any, UUID]:
    """Sorts due times ascending with no due time last, then by id."""
    return (due_at is None, due_at or datetime.min.replace(tzinfo=UTC), id_)


@dataclass(frozen=True, slots=True)
class TaskFilter:
    assignee_id: UUID | None = None
    done: bool | None = None
    record_type: RecordType | None = None
    record_id: UUID | None = None
    hidden: tuple[RecordType, ...] = ()
    """Leave out tasks about these record types (the caller may not read them)."""


@dataclass(frozen=True, slots=True)
class TaskPage:
    items: list[Task]
    next: DuePosition | None
