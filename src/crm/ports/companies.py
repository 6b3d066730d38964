"""Ports of the company slice: companies, and the links between contacts and companies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from crm.domain.model.company import Company, CompanyLink, Linked
from crm.domain.model.contact import Contact
from crm.domain.pagination import Page, PageRequest


class CompanyRepository(Protocol):
    async def add(self, company: Company) -> None:
        """Insert; raises CompanyDomainTaken when another company of the workspace has the
        domain."""

    async def get(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        """Read within the unit of work, without locking."""

    async def get_for_update(self, workspace_id: UUID, company_id: UUID) -> Company | None:
        """Load and lock the company until the unit of work ends."""

    async def save(self, company: Company, expected_version: int) -> None:
        """Write changes; VersionConflict if the stored version moved on, CompanyDomainTaken
        if the new domain is another company's."""

    async def remove(self, company: Company) -> None:
        """Delete the company and its links to contacts (never the contacts)."""


class CompanyLinkRepository(Protocol):
    async def of_contact(self, workspace_id: UUID, contact_id: UUID) -> list[CompanyLink]:
        """Every link of one contact (a handful), oldest first."""

    async def contact_ids_of(self, workspace_id: UUID, company_id: UUID) -> list[UUID]:
        """The contacts linked to one company (its `company.deleted` event names them)."""

    async def write(self, links: Sequence[CompanyLink]) -> None:
        """Insert or update each link, in order (clear an old primary before setting one)."""

    async def remove(self, link: CompanyLink) -> None: ...


@dataclass(frozen=True, slots=True)
class CompanyFilter:
    """Optional narrowing of a company list: an exact (normalized) domain, tags it has all of."""

    domain: str | None = None
    tags: tuple[str, ...] = ()


EVERY_COMPANY = CompanyFilter()


class CompanyReader(Protocol):
    """Reads outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, company_id: UUID) -> Company | None: ...

    async def list(
        self, workspace_id: UUID, page: PageRequest, where: CompanyFilter = EVERY_COMPANY
    ) -> Page[Company]: ...

    async def companies_of_contact(
        self, workspace_id: UUID, contact_id: UUID, page: PageRequest
    ) -> Page[Linked[Company]] | None:
        """The contact's companies, oldest link first; None when there is no such contact."""

    async def contacts_of_company(
        self, workspace_id: UUID, company_id: UUID, page: PageRequest
    ) -> Page[Linked[Contact]] | None:
        """The company's contacts, oldest link first; None when there is no such company."""
