from __future__ import annotations

from uuid import UUID

from crm.domain.errors import ContactNotFound
from crm.domain.model.contact import Contact
from crm.domain.model.permissions import Action, Principal
from crm.ports.repositories import ContactReader


class GetContact:
    """Read one contact of the caller's workspace; any other workspace's contact is not found."""

    def __init__(self, contacts: ContactReader) -> None:
        self._contacts = contacts

    async def execute(self, principal: Principal, contact_id: UUID) -> Contact:
        principal.require(Action.READ_CONTACTS)
        contact = await self._contacts.get(principal.workspace_id, contact_id)
        if contact is None:
            raise ContactNotFound(f"No contact {contact_id} in this workspace.")
        return contact
