from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm.domain.model.events import ContactDeleted
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import contact_snapshot
from crm.domain.use_cases._shared import load_for_change
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class DeleteContactCommand:
    principal: Principal
    contact_id: UUID
    if_match: int | None = None


class DeleteContact:
    """Delete a contact of the caller's workspace (members: only contacts they own); its emails
    become free again, its notes go with it, its tasks stay about no record."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: DeleteContactCommand) -> None:
        cmd.principal.require(Action.WRITE_CONTACTS)
        async with self._uow() as uow:
            contact = await load_for_change(uow, cmd.principal, cmd.contact_id, cmd.if_match)
            cmd.principal.require_delete(contact.owner_id)
            await uow.contacts.remove(contact)
            # Its notes go with it; its tasks stay, about no record.
            await uow.notes.remove_of_record(contact.workspace_id, RecordType.CONTACT, contact.id)
            await uow.tasks.detach_record(
                contact.workspace_id, RecordType.CONTACT, contact.id, self._clock.now()
            )
            await uow.outbox.add(
                [
                    ContactDeleted(
                        id=self._ids.new_id(),
                        workspace_id=contact.workspace_id,
                        aggregate_id=contact.id,
                        occurred_at=self._clock.now(),
                        actor_id=cmd.principal.actor_id,
                        payload=contact_snapshot(contact),
                    )
                ]
            )
            await uow.commit()
