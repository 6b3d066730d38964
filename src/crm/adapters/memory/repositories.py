"""Repositories over `MemoryState`, behaving like the Postgres ones (see the contract tests)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from uuid import UUID

from crm.adapters.memory.state import MemoryState
from crm.domain.errors import EmailAlreadyInUse, ExternalIdTaken, VersionConflict
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.domain.model.events import DomainEvent


class _Repository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state


class InMemoryContactRepository(_Repository):
    async def add(self, contact: Contact) -> None:
        self._claim_emails(contact)
        self._s.contacts[contact.id] = copy.deepcopy(contact)

    async def get_for_update(self, workspace_id: UUID, contact_id: UUID) -> Contact | None:
        found = self._s.contacts.get(contact_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def save(self, contact: Contact, expected_version: int) -> None:
        stored = self._s.contacts.get(contact.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The contact was changed by another writer.")
        self._release_emails(stored)
        self._claim_emails(contact)
        self._s.contacts[contact.id] = copy.deepcopy(contact)

    async def remove(self, contact: Contact) -> None:
        stored = self._s.contacts.pop(contact.id, None)
        if stored is not None:
            self._release_emails(stored)
        # Like the foreign key's ON DELETE CASCADE: its links to companies go with it.
        for key in [k for k in self._s.company_links if k[1] == contact.id]:
            del self._s.company_links[key]

    def _claim_emails(self, contact: Contact) -> None:
        holder = external_id_holder(self._s.contacts.values(), contact)
        if holder is not None and contact.external_id is not None:
            raise ExternalIdTaken.held_by("contact", contact.external_id, holder)
        for index, email in enumerate(contact.emails):
            owner = self._s.contact_emails.get((contact.workspace_id, email))
            if owner is not None and owner != contact.id:
                raise EmailAlreadyInUse.at(index, email)
        for email in contact.emails:
            self._s.contact_emails[(contact.workspace_id, email)] = contact.id

    def _release_emails(self, contact: Contact) -> None:
        for email in contact.emails:
            self._s.contact_emails.pop((contact.workspace_id, email), None)


def external_id_holder(records: Iterable[Contact | Deal], record: Contact | Deal) -> UUID | None:
    """Another record of the workspace with the record's external id (the unique constraint)."""
    if record.external_id is None:
        return None
    return next(
        (
            r.id
            for r in records
            if r.workspace_id == record.workspace_id
            and r.external_id == record.external_id
            and r.id != record.id
        ),
        None,
    )


class InMemoryOutbox(_Repository):
    async def add(self, events: Iterable[DomainEvent]) -> None:
        self._s.outbox.extend(events)
