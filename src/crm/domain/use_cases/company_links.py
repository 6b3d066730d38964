"""Contacts at companies: link, unlink, and list either side of the links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import CompanyNotFound, ContactNotFound
from crm.domain.model.company import Company, CompanyLink, Linked, LinkPlan, plan_link
from crm.domain.model.contact import Contact
from crm.domain.model.events import (
    ContactLinkedToCompany,
    ContactPrimaryCompanyChanged,
    ContactUnlinkedFromCompany,
    DomainEvent,
)
from crm.domain.model.permissions import Action, Principal
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import new_event
from crm.ports.companies import CompanyReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class LinkCompanyCommand:
    principal: Principal
    contact_id: UUID
    company_id: UUID
    primary: bool | None = None


@dataclass(frozen=True, slots=True)
class UnlinkCompanyCommand:
    principal: Principal
    contact_id: UUID
    company_id: UUID


class LinkContactToCompany:
    """Link a contact to a company of the same workspace (idempotent). `is_primary: true` makes
    it the contact's one primary company, `false` a secondary one; left out, a new link is
    primary when the contact has no primary company yet and an existing one keeps its flag."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: LinkCompanyCommand) -> LinkPlan:
        who = cmd.principal
        who.require(Action.WRITE_CONTACTS)
        now = self._clock.now()
        async with self._uow() as uow:
            links = await _contact_links(uow, who, cmd.contact_id, cmd.company_id)
            wanted = CompanyLink(who.workspace_id, cmd.contact_id, cmd.company_id, False, now)
            plan = plan_link(links, wanted, cmd.primary)
            if not plan.writes:
                return plan
            await uow.company_links.write(plan.writes)
            events: list[DomainEvent] = []
            if plan.created:
                payload = {"company_id": str(cmd.company_id), "is_primary": plan.link.is_primary}
                events.append(self._event(ContactLinkedToCompany, who, cmd.contact_id, payload))
            if plan.primary_before != plan.primary_after:
                payload = _primary_change(plan.primary_before, plan.primary_after)
                events.append(
                    self._event(ContactPrimaryCompanyChanged, who, cmd.contact_id, payload)
                )
            await uow.outbox.add(events)
            await uow.commit()
        return plan

    def _event(
        self, kind: type[DomainEvent], who: Principal, contact_id: UUID, payload: dict[str, Any]
    ) -> DomainEvent:
        return new_event(self._ids, self._clock, kind, who, contact_id, payload)


class UnlinkContactFromCompany:
    """Remove a contact's link to a company (nothing to do when there is none). Unlinking the
    primary company leaves the contact with no primary company until one is chosen."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: UnlinkCompanyCommand) -> None:
        who = cmd.principal
        who.require(Action.WRITE_CONTACTS)
        async with self._uow() as uow:
            links = await _contact_links(uow, who, cmd.contact_id, cmd.company_id)
            link = next((x for x in links if x.company_id == cmd.company_id), None)
            if link is None:
                return
            await uow.company_links.remove(link)
            payload = {"company_id": str(cmd.company_id), "was_primary": link.is_primary}
            kind: type[DomainEvent] = ContactUnlinkedFromCompany
            events = [new_event(self._ids, self._clock, kind, who, cmd.contact_id, payload)]
            if link.is_primary:
                kind, payload = ContactPrimaryCompanyChanged, _primary_change(cmd.company_id, None)
                events.append(new_event(self._ids, self._clock, kind, who, cmd.contact_id, payload))
            await uow.outbox.add(events)
            await uow.commit()


class ListContactCompanies:
    """A contact's companies, oldest link first, each saying whether it is the primary one."""

    def __init__(self, companies: CompanyReader) -> None:
        self._companies = companies

    async def execute(
        self, principal: Principal, contact_id: UUID, page: PageRequest
    ) -> Page[Linked[Company]]:
        principal.require(Action.READ_CONTACTS)
        principal.require(Action.READ_COMPANIES)
        found = await self._companies.companies_of_contact(principal.workspace_id, contact_id, page)
        if found is None:
            raise ContactNotFound(f"No contact {contact_id} in this workspace.")
        return found


class ListCompanyContacts:
    """A company's contacts, oldest link first, each saying whether the company is their
    primary one."""

    def __init__(self, companies: CompanyReader) -> None:
        self._companies = companies

    async def execute(
        self, principal: Principal, company_id: UUID, page: PageRequest
    ) -> Page[Linked[Contact]]:
        principal.require(Action.READ_COMPANIES)
        principal.require(Action.READ_CONTACTS)
        found = await self._companies.contacts_of_company(principal.workspace_id, company_id, page)
        if found is None:
            raise CompanyNotFound(f"No company {company_id} in this workspace.")
        return found


async def _contact_links(
    uow: UnitOfWork, who: Principal, contact_id: UUID, company_id: UUID
) -> list[CompanyLink]:
    """The contact's links, with the contact locked (its links change one writer at a time)
    and the company known to be in the workspace."""
    if await uow.contacts.get_for_update(who.workspace_id, contact_id) is None:
        raise ContactNotFound(f"No contact {contact_id} in this workspace.")
    if await uow.companies.get(who.workspace_id, company_id) is None:
        raise CompanyNotFound(f"No company {company_id} in this workspace.")
    return await uow.company_links.of_contact(who.workspace_id, contact_id)


def _primary_change(old: UUID | None, new: UUID | None) -> dict[str, Any]:
    return {
        "old_company_id": None if old is None else str(old),
        "new_company_id": None if new is None else str(new),
    }
