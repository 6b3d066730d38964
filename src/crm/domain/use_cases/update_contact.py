from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.model.contact import Contact, parse_changes
from crm.domain.model.events import ContactUpdated
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import changes_payload
from crm.domain.use_cases._contacts import check_owner, load_for_change
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
            version = contact.version
            now = self._clock.now()
            changed = contact.apply(changes, now)
            if not changed:
                return contact
            if "owner_id" in changed:
                await check_owner(uow, cmd.principal, contact.owner_id)
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
        return contact
