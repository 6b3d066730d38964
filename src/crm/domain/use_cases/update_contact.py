from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from crm.domain.model.contact import Contact, parse_changes
from crm.domain.model.custom_fields import FieldSchema, ObjectType
from crm.domain.model.events import ContactUpdated
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import changes_payload
from crm.domain.use_cases._shared import check_owner, load_for_change
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class UpdateContactCommand:
    principal: Principal
    contact_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdateContact:
    """Partially update a contact; fields left out stay, null clears, a stale If-Match fails."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        self._uow, self._clock, self._ids, self._phones = uow, clock, ids, phones

    async def execute(self, cmd: UpdateContactCommand) -> Contact:
        cmd.principal.require(Action.WRITE_CONTACTS)
        changes = parse_changes(cmd.changes, self._phones.to_e164)
        async with self._uow() as uow:
            contact = await load_for_change(uow, cmd.principal, cmd.contact_id, cmd.if_match)
            schema = FieldSchema(ObjectType.CONTACT, ())
            if contact.custom_fields or changes.get("custom_fields"):
                schema = await uow.custom_fields.schema(contact.workspace_id, ObjectType.CONTACT)
            if "custom_fields" in changes:
                changes["custom_fields"] = schema.validate(
                    changes["custom_fields"], self._phones.to_e164
                )
            version = contact.version
            now = self._clock.now()
            changed = contact.apply(changes, now)
            if not changed:
                return _visible(contact, schema)
            if "owner_id" in changed:
                await check_owner(uow, cmd.principal, contact.owner_id)
            if "tags" in changed:
                await uow.tags.ensure(contact.workspace_id, contact.tags, now)
            await uow.contacts.save(contact, expected_version=version)
            await uow.outbox.add(
                [
                    ContactUpdated(
                        id=self._ids.new_id(),
                        workspace_id=contact.workspace_id,
                        aggregate_id=contact.id,
                        occurred_at=now,
                        actor_id=cmd.principal.actor_id,
                        payload=changes_payload(changed),
                    )
                ]
            )
            await uow.commit()
        return _visible(contact, schema)


def _visible(contact: Contact, schema: FieldSchema) -> Contact:
    """What the caller may see: values of archived fields stay stored but are not shown."""
    return replace(contact, custom_fields=schema.visible(contact.custom_fields))
