"""Notes: free text an actor writes on a contact, company or deal; pinned ones list first."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidCursor, InvalidInput
from crm.domain.model.permissions import Action
from crm.domain.pagination import pack_cursor, unpack_cursor

MAX_NOTE_TEXT = 10_000


class RecordType(enum.StrEnum):
    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"


READ_ACTION = {
    RecordType.CONTACT: Action.READ_CONTACTS,
    RecordType.COMPANY: Action.READ_COMPANIES,
    RecordType.DEAL: Action.READ_DEALS,
}
WRITE_ACTION = {
    RecordType.CONTACT: Action.WRITE_CONTACTS,
    RecordType.COMPANY: Action.WRITE_COMPANIES,
    RecordType.DEAL: Action.WRITE_DEALS,
}


def parse_text(value: Any) -> str:
    """Non-blank text of at most MAX_NOTE_TEXT characters (surrounding blanks dropped)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_NOTE_TEXT:
        raise InvalidInput(
            "A note needs text.",
            errors=(
                FieldError("/text", "invalid_text", f"1 to {MAX_NOTE_TEXT} characters of text"),
            ),
        )
    return text


@dataclass(slots=True)
class Note:
    id: UUID
    workspace_id: UUID
    record_type: RecordType
    record_id: UUID
    text: str
    author_id: UUID
    pinned: bool
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def apply(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Apply `text` and/or `pinned`; the names of the fields that changed."""
        changed = []
        if "text" in changes:
            text = parse_text(changes["text"])
            if text != self.text:
                self.text = text
                changed.append("text")
        if "pinned" in changes:
            if not isinstance(changes["pinned"], bool):
                raise InvalidInput(
                    "pinned is true or false.",
                    errors=(FieldError("/pinned", "invalid_pinned", "true or false"),),
                )
            pinned = changes["pinned"]
            if pinned != self.pinned:
                self.pinned = pinned
                changed.append("pinned")
        if changed:
            self.updated_at, self.version = now, self.version + 1
        return changed


@dataclass(frozen=True, slots=True)
class NotePosition:
    """Where a page of notes ends (pinned first, then newest first)."""

    pinned: bool
    created_at: datetime
    id: UUID

    def encode(self) -> str:
        return pack_cursor("note", self.pinned, self.created_at.isoformat(), str(self.id))

    @classmethod
    def decode(cls, cursor: str) -> NotePosition:
        def parse(parts: list[Any]) -> tuple[str, NotePosition]:
            kind, pinned, created_at, id_ = parts
            return kind, cls(bool(pinned), datetime.fromisoformat(created_at), UUID(id_))

        kind, position = unpack_cursor(cursor, parse)
        if kind != "note" or position.created_at.tzinfo is None:
            raise InvalidCursor("The cursor belongs to another list; start from the first page.")
        return position

    @classmethod
    def of(cls, note: Note) -> NotePosition:
        return cls(note.pinned, note.created_at, note.id)


@dataclass(frozen=True, slots=True)
class NotePage:
    items: list[Note]
    next: NotePosition | None
