"""Merging duplicates: a contact into a contact, a company into a company."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from crm.domain.errors import FieldError, MergeIntoSelf, TransactionAborted
from crm.domain.model.changes import FieldChange
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.deal import LinkedObject
from crm.domain.model.events import CompanyMerged as CompanyMergedEvent
from crm.domain.model.events import ContactMerged as ContactMergedEvent
from crm.domain.model.events import DomainEvent
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import changes_payload, contact_snapshot
from crm.domain.use_cases import companies as co
from crm.domain.use_cases._shared import check_version, merged_away, new_event
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

R = TypeVar("R", Contact, Company)
ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class MergeCommand:
    """Merge `source_id` into `survivor_id` (the record that stays); `if_match` is the
    survivor's version."""

    principal: Principal
    survivor_id: UUID
    source_id: UUID
    if_match: int | None = None


async def move_associations(
    uow: UnitOfWork,
    kind: RecordType,
    workspace_id: UUID,
    source_id: UUID,
    survivor_id: UUID,
    now: datetime,
) -> dict[str, int]:
    """What follows a merged record into the survivor: the one list of what a merge moves
    (chats join it when they exist). Counts what the survivor gained, by kind."""
    m, at = uow.merges, (workspace_id, source_id, survivor_id)
    moved: dict[str, int] = {}
    if kind is RecordType.CONTACT:
        moved["company_links"] = await m.move_contact_companies(*at)
        moved["deals"] = await m.move_deal_links(LinkedObject.CONTACT, *at)
    else:
        moved["contacts"] = await m.move_company_contacts(*at)
        moved["deals"] = await m.move_deal_links(LinkedObject.COMPANY, *at)
    moved["notes"] = await m.move_notes(workspace_id, kind, source_id, survivor_id, now)
    moved["tasks"] = await m.move_tasks(workspace_id, kind, source_id, survivor_id, now)
    return moved


class _Records(Protocol[R]):
    async def get_for_update(self, workspace_id: UUID, record_id: UUID, /) -> R | None: ...

    async def save(self, record: R, expected_version: int) -> None: ...

    async def remove(self, record: R) -> None: ...


@dataclass(frozen=True, slots=True)
class _Kind(Generic[R]):
    record_type: RecordType
    object_type: ObjectType
    write: Action
    event: type[DomainEvent]
    records: Callable[[UnitOfWork], _Records[R]]
    snapshot: Callable[[R], dict[str, Any]]
    changes: Callable[[Mapping[str, FieldChange]], dict[str, Any]]


class _MergeRecords(Generic[R]):
    _kind: _Kind[R]

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: MergeCommand) -> R:
        who, kind = cmd.principal, self._kind
        who.require(kind.write)
        if cmd.survivor_id == cmd.source_id:
            raise MergeIntoSelf(
                f"A {kind.record_type.value} cannot be merged into itself.",
                errors=(FieldError("/source_id", "merge_into_self", "name another record"),),
            )
        # A merge locks both records, then touches links that other writers reach from the
        # other end (a deal link locks the deal, then the contact): the database may break such
        # a cycle by aborting the merge, which then simply runs again (nothing was written).
        for _ in range(ATTEMPTS - 1):
            try:
                return await self._merge(cmd)
            except TransactionAborted:
                continue
        return await self._merge(cmd)

    async def _merge(self, cmd: MergeCommand) -> R:
        who, kind = cmd.principal, self._kind
        async with self._uow() as uow:
            survivor, source = await self._lock(uow, who.workspace_id, cmd)
            check_version(kind.record_type.value, cmd.if_match, survivor.version)
            who.require_delete(source.owner_id, kind.write)
            version, now = survivor.version, self._clock.now()
            changed = survivor.merge(source, now)
            moved = await self._write(uow, who, survivor, source, bool(changed), version, now)
            payload = {"source_id": str(source.id), "source": kind.snapshot(source)}
            payload |= kind.changes(changed) | {"moved": moved}
            event = new_event(self._ids, self._clock, kind.event, who, survivor.id, payload)
            await uow.outbox.add([event])
            shown = await self._visible(uow, survivor)
            await uow.commit()
        return shown

    async def _write(
        self,
        uow: UnitOfWork,
        who: Principal,
        survivor: R,
        source: R,
        changed: bool,
        version: int,
        now: datetime,
    ) -> dict[str, int]:
        """Move what the source had, delete it, save the survivor (if it `changed`, from
        `version`), leave the tombstone."""
        kind = self._kind
        moved = await move_associations(
            uow, kind.record_type, who.workspace_id, source.id, survivor.id, now
        )
        # The source goes first: its emails, domain and external id are free for the
        # survivor to take.
        await kind.records(uow).remove(source)
        if changed:
            await uow.tags.ensure(who.workspace_id, survivor.tags, now)
            await kind.records(uow).save(survivor, expected_version=version)
        grave = Tombstone(
            who.workspace_id, kind.record_type, source.id, survivor.id, who.actor_id, now
        )
        await uow.merges.bury(grave)
        return moved

    async def _lock(self, uow: UnitOfWork, workspace_id: UUID, cmd: MergeCommand) -> tuple[R, R]:
        """Both records, locked in id order (two merges of one pair never deadlock)."""
        load, kind = self._kind.records(uow).get_for_update, self._kind.record_type
        found = {i: await load(workspace_id, i) for i in sorted((cmd.survivor_id, cmd.source_id))}
        survivor, source = found[cmd.survivor_id], found[cmd.source_id]
        if survivor is None:
            raise await merged_away(uow, kind, workspace_id, cmd.survivor_id)
        if source is None:
            error = await merged_away(uow, kind, workspace_id, cmd.source_id, "source ")
            error.errors = (FieldError("/source_id", error.code, error.detail),)
            raise error
        return survivor, source

    async def _visible(self, uow: UnitOfWork, record: R) -> R:
        """What the caller may see: values of archived fields stay stored but are not shown."""
        if not record.custom_fields:
            return record
        schema = await uow.custom_fields.schema(record.workspace_id, self._kind.object_type)
        return replace(record, custom_fields=schema.visible(record.custom_fields))


class MergeContacts(_MergeRecords[Contact]):
    """Merge the contact `source_id` into this one, which stays. Each field keeps this
    contact's value unless it is empty, else takes the source's; emails, phones, tags and
    multi-select values are unioned (this contact's first); custom fields merge key by key;
    the lifecycle stage is the further along the funnel. The source's company links (this
    contact keeps its primary company, takes the source's only if it had none), deals, notes
    and tasks move here; the source is deleted and its id answers 404 `contact_merged` naming
    this contact. Needs the right to delete the source."""

    _kind = _Kind(
        RecordType.CONTACT,
        ObjectType.CONTACT,
        Action.WRITE_CONTACTS,
        ContactMergedEvent,
        lambda uow: uow.contacts,
        contact_snapshot,
        changes_payload,
    )


class MergeCompanies(_MergeRecords[Company]):
    """Merge the company `source_id` into this one, which stays. Each field keeps this
    company's value unless it is empty, else takes the source's (its domain too, freed by the
    source); tags and multi-select values are unioned; custom fields merge key by key. The
    source's contacts (a contact whose primary company was the source has this one as primary),
    deals, notes and tasks move here; the source is deleted and its id answers 404
    `company_merged` naming this company. Needs the right to delete the source."""

    _kind = _Kind(
        RecordType.COMPANY,
        ObjectType.COMPANY,
        Action.WRITE_COMPANIES,
        CompanyMergedEvent,
        lambda uow: uow.companies,
        co.snapshot,
        co.changes_payload,
    )
