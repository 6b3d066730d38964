"""What the contact use cases share: loading within the caller's workspace, owner checks."""

from __future__ import annotations

from uuid import UUID

from crm.domain.errors import ContactNotFound, FieldError, InvalidInput, VersionConflict
from crm.domain.model.contact import Contact
from crm.domain.model.permissions import Principal
from crm.ports.unit_of_work import UnitOfWork


async def load_for_change(
    uow: UnitOfWork, principal: Principal, contact_id: UUID, if_match: int | None
) -> Contact:
    contact = await uow.contacts.get_for_update(principal.workspace_id, contact_id)
    if contact is None:
        raise ContactNotFound(f"No contact {contact_id} in this workspace.")
    if if_match is not None and if_match != contact.version:
        raise VersionConflict(
            f"If-Match names version {if_match} but the contact is at version {contact.version}."
        )
    return contact


async def check_owner(uow: UnitOfWork, principal: Principal, owner_id: UUID | None) -> None:
    if owner_id is not None and await uow.members.get(principal.workspace_id, owner_id) is None:
        raise InvalidInput(
            "The owner must be a member of the workspace.",
            errors=(FieldError("/owner_id", "owner_not_member", "not a member of this workspace"),),
        )
