"""Which records files attach to, and who may reach them: a record's attachments follow
its actions (a note's, its record's), looked up in the caller's workspace only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from crm.domain.errors import (
    CompanyNotFound,
    ContactNotFound,
    DealNotFound,
    NoteNotFound,
    NotFound,
)
from crm.domain.model.attachments import AttachedTo
from crm.domain.model.note import Note, RecordType
from crm.domain.model.permissions import Action, Principal
from crm.ports.companies import CompanyReader
from crm.ports.deals import DealReader
from crm.ports.notes import NoteReader
from crm.ports.repositories import ContactReader
from crm.ports.unit_of_work import UnitOfWork

Find = Callable[[AttachedTo, UUID], Awaitable[object | None]]
"""Looks a record up in the caller's workspace: the record, or None."""
_MISSING: dict[AttachedTo, type[NotFound]] = {
    AttachedTo.CONTACT: ContactNotFound,
    AttachedTo.COMPANY: CompanyNotFound,
    AttachedTo.DEAL: DealNotFound,
    AttachedTo.NOTE: NoteNotFound,
}


def missing(record_type: AttachedTo, record_id: UUID) -> NotFound:
    return _MISSING[record_type](f"No {record_type.value} {record_id} in this workspace.")


async def governed(
    who: Principal,
    record: tuple[AttachedTo, UUID],
    actions: dict[RecordType, Action],
    find: Find,
) -> bool:
    """Require the action of `actions` that governs the record (a note's: its record's);
    False when the record is not in the caller's workspace."""
    record_type, record_id = record
    if record_type is not AttachedTo.NOTE:
        who.require(actions[RecordType(record_type.value)])
    found = await find(record_type, record_id)
    if found is None:
        return False
    if isinstance(found, Note):
        who.require(actions[found.record_type])
    return True


@dataclass(frozen=True, slots=True)
class RecordReaders:
    """Reads of the records files attach to, outside a unit of work (never locking)."""

    contacts: ContactReader
    companies: CompanyReader
    deals: DealReader
    notes: NoteReader

    def finder(self, workspace_id: UUID) -> Find:
        async def find(record_type: AttachedTo, record_id: UUID) -> object | None:
            if record_type is AttachedTo.CONTACT:
                return await self.contacts.get(workspace_id, record_id)
            if record_type is AttachedTo.COMPANY:
                return await self.companies.get(workspace_id, record_id)
            if record_type is AttachedTo.DEAL:
                return await self.deals.get(workspace_id, record_id)
            return await self.notes.get(workspace_id, record_id)

        return find


def locking(uow: UnitOfWork, workspace_id: UUID) -> Find:
    """Finds the record and locks it until the unit of work ends (it cannot go meanwhile)."""

    async def find(record_type: AttachedTo, record_id: UUID) -> object | None:
        if record_type is AttachedTo.CONTACT:
            return await uow.contacts.get_for_update(workspace_id, record_id)
        if record_type is AttachedTo.COMPANY:
            return await uow.companies.get_for_update(workspace_id, record_id)
        if record_type is AttachedTo.DEAL:
            return await uow.deals.get_for_update(workspace_id, record_id)
        return await uow.notes.get_for_update(workspace_id, record_id)

    return find
