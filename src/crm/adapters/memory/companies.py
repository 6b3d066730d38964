"""Companies and contact-company links over `MemoryState`, behaving like the Postgres ones."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from crm.adapters.memory.custom_fields import schema_of
from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.domain.errors import CompanyDomainTaken, VersionConflict
from crm.domain.model.company import Company, CompanyLink, Linked
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.pagination import Page, PageRequest
from crm.ports.companies import EVERY_COMPANY, CompanyFilter

T = TypeVar("T")


class InMemoryCompanyRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, company: Company) -> None:
        self._claim_domain(company)
        self._s.companies[company.id] = copy.deepcopy(company)

    async def get(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        found = self._s.companies.get(company_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def get_for_update(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        return await self.get(workspace_id, company_id)

    async def save(self, company: Company, expected_version: int) -> None:
        stored = self._s.companies.get(company.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The company was changed by another writer.")
        self._claim_domain(company)
        if stored.domain is not None and stored.domain != company.domain:
            self._s.company_domains.pop((stored.workspace_id, stored.domain), None)
        self._s.companies[company.id] = copy.deepcopy(company)

    async def remove(self, company: Company) -> None:
        stored = self._s.companies.pop(company.id, None)
        if stored is None:
            return
        if stored.domain is not None:
            self._s.company_domains.pop((stored.workspace_id, stored.domain), None)
        for key in [k for k in self._s.company_links if k[2] == company.id]:
            del self._s.company_links[key]

    def _claim_domain(self, company: Company) -> None:
        if company.domain is None:
            return
        key = (company.workspace_id, company.domain)
        holder = self._s.company_domains.get(key)
        if holder is not None and holder != company.id:
            raise CompanyDomainTaken.held_by(company.domain, holder)
        self._s.company_domains[key] = company.id


class InMemoryCompanyLinkRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def of_contact(self, workspace_id: UUID, contact_id: UUID) -> list[CompanyLink]:
        links = (
            link
            for (ws, contact, _), link in self._s.company_links.items()
            if (ws, contact) == (workspace_id, contact_id)
        )
        return sorted(links, key=lambda x: (x.created_at, x.company_id))

    async def contact_ids_of(self, workspace_id: UUID, company_id: UUID) -> list[UUID]:
        return sorted(
            contact
            for (ws, contact, company) in self._s.company_links
            if (ws, company) == (workspace_id, company_id)
        )

    async def write(self, links: Sequence[CompanyLink]) -> None:
        for link in links:
            key = (link.workspace_id, link.contact_id, link.company_id)
            self._s.company_links[key] = link

    async def remove(self, link: CompanyLink) -> None:
        self._s.company_links.pop((link.workspace_id, link.contact_id, link.company_id), None)


class InMemoryCompanyReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        found = self._store.state.companies.get(company_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return self._company(found)

    async def list(
        self, workspace_id: UUID, page: PageRequest, where: CompanyFilter = EVERY_COMPANY
    ) -> Page[Company]:
        rows = [
            c
            for c in self._store.state.companies.values()
            if c.workspace_id == workspace_id
            and (where.domain is None or c.domain == where.domain)
            and set(where.tags) <= set(c.tags)
        ]
        return keyset_page(rows, lambda c: (c.created_at, c.id), page, self._company)

    async def companies_of_contact(
        self, workspace_id: UUID, contact_id: UUID, page: PageRequest
    ) -> Page[Linked[Company]] | None:
        state = self._store.state
        contact = state.contacts.get(contact_id)
        if contact is None or contact.workspace_id != workspace_id:
            return None
        rows = [
            Linked(self._company(state.companies[c]), link.is_primary, link.created_at)
            for (ws, ct, c), link in state.company_links.items()
            if (ws, ct) == (workspace_id, contact_id)
        ]
        return keyset_page(rows, lambda x: (x.linked_at, x.item.id), page, _same)

    async def contacts_of_company(
        self, workspace_id: UUID, company_id: UUID, page: PageRequest
    ) -> Page[Linked[Contact]] | None:
        state = self._store.state
        company = state.companies.get(company_id)
        if company is None or company.workspace_id != workspace_id:
            return None
        rows = [
            Linked(self._contact(state.contacts[ct]), link.is_primary, link.created_at)
            for (ws, ct, c), link in state.company_links.items()
            if (ws, c) == (workspace_id, company_id)
        ]
        return keyset_page(rows, lambda x: (x.linked_at, x.item.id), page, _same)

    def _company(self, company: Company) -> Company:
        """A copy without the values of archived custom fields (they stay stored)."""
        found = copy.deepcopy(company)
        schema = schema_of(self._store.state, found.workspace_id, ObjectType.COMPANY)
        found.custom_fields = schema.visible(found.custom_fields)
        return found

    def _contact(self, contact: Contact) -> Contact:
        found = copy.deepcopy(contact)
        schema = schema_of(self._store.state, found.workspace_id, ObjectType.CONTACT)
        found.custom_fields = schema.visible(found.custom_fields)
        return found


def _same(x: T) -> T:
    return x
