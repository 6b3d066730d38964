from __future__ import annotations

from crm.domain.model.contact import Contact
from crm.domain.model.permissions import Action, Principal
from crm.domain.pagination import Page, PageRequest
from crm.ports.repositories import ContactReader


class ListContacts:
    """List the caller's workspace contacts a page at a time, by creation time (keyset)."""

    def __init__(self, contacts: ContactReader) -> None:
        self._contacts = contacts

    async def execute(self, principal: Principal, page: PageRequest) -> Page[Contact]:
        principal.require(Action.READ_CONTACTS)
        return await self._contacts.list(principal.workspace_id, page)
