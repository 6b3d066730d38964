"""Batch writes of contacts: upsert by email, phone or external id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import ContactNotFound, DomainError, EmailAlreadyInUse, ExternalIdTaken
from crm.domain.model.changes import FieldChange
from crm.domain.model.contact import Contact, ContactData, parse_changes
from crm.domain.model.contact_rules import PhoneNormalizer
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.events import ContactCreated, ContactUpdated
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import changes_payload, contact_snapshot
from crm.domain.use_cases.batch import shapes
from crm.domain.use_cases.batch.engine import BatchEngine
from crm.domain.use_cases.batch.kind import Item, Kind
from crm.ports.batch import BatchStore
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


class ContactKind(Kind[Contact]):
    noun = "contact"
    object_type = ObjectType.CONTACT
    action = Action.WRITE_CONTACTS
    shapes = shapes.CONTACT
    match_keys = ("email", "phone", "external_id")
    unique_keys = ("email", "external_id")
    key_attrs = {"email": "emails", "phone": "phones", "external_id": "external_id"}
    created_event = ContactCreated
    updated_event = ContactUpdated

    def __init__(self, to_e164: PhoneNormalizer) -> None:
        self._to_e164 = to_e164

    def store(self, uow: UnitOfWork) -> BatchStore[Contact]:
        return uow.batch.contacts

    def parse_new(self, raw: Mapping[str, Any]) -> ContactData:
        return ContactData.parse(raw, self._to_e164)

    def parse_changes(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return parse_changes(raw, self._to_e164)

    def new_record(
        self, id: UUID, who: Principal, item: Item, now: datetime, context: Any
    ) -> Contact:
        return Contact.create(id, who.workspace_id, item.new, now)

    def snapshot(self, record: Contact) -> dict[str, Any]:
        return contact_snapshot(record)

    def changes_payload(self, changed: Mapping[str, FieldChange]) -> dict[str, Any]:
        return changes_payload(changed)

    def not_found(self, record_id: UUID | None) -> DomainError:
        return ContactNotFound(f"No contact {record_id} in this workspace.")

    def taken(self, key: str, value: str, position: int, holder: UUID) -> DomainError:
        if key == "email":
            return EmailAlreadyInUse.at(position, value)
        return ExternalIdTaken.held_by("contact", value, holder)


class BatchContacts(BatchEngine[Contact]):
    """Create, update or upsert up to 100 contacts (any number through the use case), each
    item on its own: good items are written even when others fail, a failed item leaves
    nothing behind. Upserts match on `email` (any of the item's emails), `phone` (any of its
    numbers, E.164) or `external_id`; a match is updated like a PATCH (lists replace)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        super().__init__(uow, clock, ids, phones)
        self.kind = ContactKind(self._tools.to_e164)
