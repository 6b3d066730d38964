"""Note use cases: notes on a contact, company or deal of the caller's workspace.

Reading notes needs the record's read action, writing them its write action. Members edit and
delete only the notes they wrote; admins, owners and keys with the write scope any. A record's
notes are deleted with the record (in the same transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import CompanyNotFound, ContactNotFound, DealNotFound, NoteNotFound
from crm.domain.model.changes import FieldChange
from crm.domain.model.events import NoteAdded, NoteDeleted, NoteUpdated
from crm.domain.model.note import (
    READ_ACTION,
    WRITE_ACTION,
    Note,
    NotePage,
    NotePosition,
    RecordType,
    parse_text,
)
from crm.domain.model.permissions import Principal, Role, RoleForbids
from crm.domain.model.snapshot import changes_payload, jsonable
from crm.domain.use_cases._shared import check_version, new_event
from crm.ports.notes import NoteReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AddNoteCommand:
    principal: Principal
    record_type: RecordType
    record_id: UUID
    text: str
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class UpdateNoteCommand:
    principal: Principal
    note_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteNoteCommand:
    principal: Principal
    note_id: UUID
    if_match: int | None = None


class AddNote:
    """Add a note to a record of the caller's workspace; the caller is its author."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: AddNoteCommand) -> Note:
        who = cmd.principal
        who.require(WRITE_ACTION[cmd.record_type])
        text = parse_text(cmd.text)
        now = self._clock.now()
        async with self._uow() as uow:
            await check_record(uow, who.workspace_id, cmd.record_type, cmd.record_id)
            note = Note(
                self._ids.new_id(),
                who.workspace_id,
                cmd.record_type,
                cmd.record_id,
                text,
                who.actor_id,
                cmd.pinned,
                now,
                now,
            )
            await uow.notes.add(note)
            event = new_event(self._ids, self._clock, NoteAdded, who, note.id, snapshot(note))
            await uow.outbox.add([event])
            await uow.commit()
        return note


class UpdateNote:
    """Change a note's text or pin it (members: only their own notes); a stale If-Match fails."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: UpdateNoteCommand) -> Note:
        who = cmd.principal
        async with self._uow() as uow:
            note = await _load_for_change(uow, who, cmd.note_id, cmd.if_match)
            version = note.version
            before = {"text": note.text, "pinned": note.pinned}
            changed = note.apply(cmd.changes, self._clock.now())
            if not changed:
                return note
            await uow.notes.save(note, expected_version=version)
            diff = {name: FieldChange(before[name], getattr(note, name)) for name in changed}
            payload = _where(note) | changes_payload(diff)
            event = new_event(self._ids, self._clock, NoteUpdated, who, note.id, payload)
            await uow.outbox.add([event])
            await uow.commit()
        return note


class DeleteNote:
    """Delete a note (members: only their own notes)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: DeleteNoteCommand) -> None:
        who = cmd.principal
        async with self._uow() as uow:
            note = await _load_for_change(uow, who, cmd.note_id, cmd.if_match)
            await uow.notes.remove(note)
            event = new_event(self._ids, self._clock, NoteDeleted, who, note.id, _where(note))
            await uow.outbox.add([event])
            await uow.commit()


class GetNote:
    """Read one note of the caller's workspace (needs read access to its record's type)."""

    def __init__(self, notes: NoteReader) -> None:
        self._notes = notes

    async def execute(self, principal: Principal, note_id: UUID) -> Note:
        note = await self._notes.get(principal.workspace_id, note_id)
        if note is None:
            raise NoteNotFound(f"No note {note_id} in this workspace.")
        principal.require(READ_ACTION[note.record_type])
        return note


class ListNotes:
    """List a record's notes, pinned first, then newest first (keyset pages)."""

    def __init__(self, notes: NoteReader) -> None:
        self._notes = notes

    async def execute(
        self,
        principal: Principal,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: NotePosition | None = None,
    ) -> NotePage:
        principal.require(READ_ACTION[record_type])
        found = await self._notes.of_record(
            principal.workspace_id, record_type, record_id, limit, after
        )
        if found is None:
            raise _not_found(record_type, record_id)
        return found


async def _load_for_change(
    uow: UnitOfWork, who: Principal, note_id: UUID, if_match: int | None
) -> Note:
    note = await uow.notes.get_for_update(who.workspace_id, note_id)
    if note is None:
        raise NoteNotFound(f"No note {note_id} in this workspace.")
    who.require(WRITE_ACTION[note.record_type])
    if who.role is Role.MEMBER and note.author_id != who.actor_id:
        raise RoleForbids("A workspace member may change only notes they wrote.")
    check_version("note", if_match, note.version)
    return note


async def check_record(
    uow: UnitOfWork, workspace_id: UUID, record_type: RecordType, record_id: UUID
) -> None:
    if record_type is RecordType.CONTACT:
        found: object = await uow.contacts.get_for_update(workspace_id, record_id)
    elif record_type is RecordType.COMPANY:
        found = await uow.companies.get_for_update(workspace_id, record_id)
    else:
        found = await uow.deals.get_for_update(workspace_id, record_id)
    if found is None:
        raise _not_found(record_type, record_id)


def _not_found(record_type: RecordType, record_id: UUID) -> Exception:
    if record_type is RecordType.CONTACT:
        return ContactNotFound(f"No contact {record_id} in this workspace.")
    if record_type is RecordType.COMPANY:
        return CompanyNotFound(f"No company {record_id} in this workspace.")
    return DealNotFound(f"No deal {record_id} in this workspace.")


def _where(note: Note) -> dict[str, Any]:
    return {"record_type": note.record_type.value, "record_id": str(note.record_id)}


def snapshot(note: Note) -> dict[str, Any]:
    return {
        **_where(note),
        "text": note.text,
        "author_id": str(note.author_id),
        "pinned": note.pinned,
        "created_at": jsonable(note.created_at),
        "version": note.version,
    }
