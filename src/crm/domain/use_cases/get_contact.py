from __future__ import annotations

from uuid import UUID

from crm.domain.model.contact import Contact
from crm.domain.model.merging import not_found
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Action, Principal
from crm.ports.merges import TombstoneReader
from crm.ports.repositories import ContactReader


class GetContact:
    """Read one contact of the caller's workspace; any other workspace's contact is not found,
    and a contact merged into another is a 404 `contact_merged` naming it (`merged_into`)."""

    def __init__(self, contacts: ContactReader, tombstones: TombstoneReader) -> None:
        self._contacts, self._tombstones = contacts, tombstones

    async def execute(self, principal: Principal, contact_id: UUID) -> Contact:
        principal.require(Action.READ_CONTACTS)
        contact = await self._contacts.get(principal.workspace_id, contact_id)
        if contact is None:
            # Only a miss pays for the tombstone read: the hot path stays one statement.
            kind = RecordType.CONTACT
            into = await self._tombstones.merged_into(principal.workspace_id, kind, contact_id)
            raise not_found(kind, contact_id, into)
        return contact
