from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm.domain.model.contact import Contact, ContactData
from crm.domain.model.custom_fields import ObjectType, merge
from crm.domain.model.events import ContactCreated
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import contact_snapshot
from crm.domain.use_cases._shared import check_owner
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateContactCommand:
    principal: Principal
    fields: Mapping[str, Any]


class CreateContact:
    """Create a contact in the caller's workspace; its emails must be free in that workspace."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        self._uow, self._clock, self._ids, self._phones = uow, clock, ids, phones

    async def execute(self, cmd: CreateContactCommand) -> Contact:
        cmd.principal.require(Action.WRITE_CONTACTS)
        data = ContactData.parse(cmd.fields, self._phones.to_e164)
        now = self._clock.now()
        contact = Contact.create(self._ids.new_id(), cmd.principal.workspace_id, data, now)
        async with self._uow() as uow:
            if data.custom_fields:  # no values, no definitions to read: one round trip less
                schema = await uow.custom_fields.schema(contact.workspace_id, ObjectType.CONTACT)
                values = schema.validate(data.custom_fields, self._phones.to_e164)
                contact.custom_fields = merge({}, values)
            await check_owner(uow, cmd.principal, contact.owner_id)
            await uow.tags.ensure(contact.workspace_id, contact.tags, now)
            await uow.contacts.add(contact)
            event = ContactCreated(
                id=self._ids.new_id(),
                workspace_id=contact.workspace_id,
                aggregate_id=contact.id,
                occurred_at=now,
                actor_id=cmd.principal.actor_id,
                payload=contact_snapshot(contact),
            )
            await uow.outbox.add([event])
            await uow.commit()
        return contact
