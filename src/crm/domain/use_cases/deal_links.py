"""A deal's contacts and companies: link, unlink (both idempotent) and list either side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import CompanyNotFound, ContactNotFound, DealNotFound, NotFound
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal, LinkedObject, LinkedTo
from crm.domain.model.events import DealLinked, DealUnlinked, DomainEvent
from crm.domain.model.permissions import Action, Principal
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import new_event
from crm.domain.use_cases.deals import load_deal
from crm.ports.deals import DealReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

READ_OTHER = {
    LinkedObject.CONTACT: Action.READ_CONTACTS,
    LinkedObject.COMPANY: Action.READ_COMPANIES,
}


def not_found(kind: LinkedObject, other_id: UUID) -> NotFound:
    if kind is LinkedObject.CONTACT:
        return ContactNotFound(f"No contact {other_id} in this workspace.")
    return CompanyNotFound(f"No company {other_id} in this workspace.")


async def _exists(uow: UnitOfWork, kind: LinkedObject, workspace_id: UUID, other_id: UUID) -> bool:
    if kind is LinkedObject.CONTACT:
        return await uow.contacts.get_for_update(workspace_id, other_id) is not None
    return await uow.companies.get(workspace_id, other_id) is not None


@dataclass(frozen=True, slots=True)
class LinkCommand:
    principal: Principal
    deal_id: UUID
    kind: LinkedObject
    other_id: UUID


@dataclass(frozen=True, slots=True)
class DealLink:
    """A deal's link to a contact or company; `created` when this call made it."""

    deal_id: UUID
    kind: LinkedObject
    other_id: UUID
    linked_at: datetime
    created: bool


class _Links:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def _load(self, uow: UnitOfWork, cmd: LinkCommand) -> Deal:
        cmd.principal.require(Action.WRITE_DEALS)
        deal = await load_deal(uow, cmd.principal, cmd.deal_id)
        if not await _exists(uow, cmd.kind, deal.workspace_id, cmd.other_id):
            raise not_found(cmd.kind, cmd.other_id)
        return deal

    async def _record(self, uow: UnitOfWork, cmd: LinkCommand, event: type[DomainEvent]) -> None:
        payload = {"object_type": cmd.kind.value, "object_id": str(cmd.other_id)}
        await uow.outbox.add(
            [new_event(self._ids, self._clock, event, cmd.principal, cmd.deal_id, payload)]
        )
        await uow.commit()


class LinkDeal(_Links):
    """Link a deal to a contact or company of the workspace; linking twice changes nothing."""

    async def execute(self, cmd: LinkCommand) -> DealLink:
        cmd.principal.require(Action.WRITE_DEALS)
        async with self._uow() as uow:
            deal = await self._load(uow, cmd)
            linked_at, created = await uow.deal_links.link(
                cmd.kind, deal.workspace_id, deal.id, cmd.other_id, self._clock.now()
            )
            if created:
                await self._record(uow, cmd, DealLinked)
        return DealLink(deal.id, cmd.kind, cmd.other_id, linked_at, created)


class UnlinkDeal(_Links):
    """Remove a deal's link to a contact or company; removing an absent link changes nothing
    (the deal and the contact or company must still be in the workspace)."""

    async def execute(self, cmd: LinkCommand) -> bool:
        """True when there was a link to remove."""
        cmd.principal.require(Action.WRITE_DEALS)
        async with self._uow() as uow:
            deal = await self._load(uow, cmd)
            removed = await uow.deal_links.unlink(
                cmd.kind, deal.workspace_id, deal.id, cmd.other_id
            )
            if removed:
                await self._record(uow, cmd, DealUnlinked)
        return removed


class ListDealsOf:
    """The deals linked to a contact or company, in the order they were linked."""

    def __init__(self, deals: DealReader) -> None:
        self._deals = deals

    async def execute(
        self, principal: Principal, kind: LinkedObject, other_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Deal]]:
        principal.require(Action.READ_DEALS)
        principal.require(READ_OTHER[kind])
        found = await self._deals.deals_of(kind, principal.workspace_id, other_id, page)
        if found is None:
            raise not_found(kind, other_id)
        return found


class ListDealContacts:
    """The contacts linked to a deal, in the order they were linked."""

    def __init__(self, deals: DealReader) -> None:
        self._deals = deals

    async def execute(
        self, principal: Principal, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Contact]]:
        principal.require(Action.READ_DEALS)
        principal.require(Action.READ_CONTACTS)
        found = await self._deals.contacts_of(principal.workspace_id, deal_id, page)
        if found is None:
            raise DealNotFound(f"No deal {deal_id} in this workspace.")
        return found


class ListDealCompanies:
    """The companies linked to a deal, in the order they were linked."""

    def __init__(self, deals: DealReader) -> None:
        self._deals = deals

    async def execute(
        self, principal: Principal, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Company]]:
        principal.require(Action.READ_DEALS)
        principal.require(Action.READ_COMPANIES)
        found = await self._deals.companies_of(principal.workspace_id, deal_id, page)
        if found is None:
            raise DealNotFound(f"No deal {deal_id} in this workspace.")
        return found
