"""What the use cases share: loading within the caller's workspace, If-Match and owner checks,
and the events they record."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput, NotFound, VersionConflict
from crm.domain.model.contact import Contact
from crm.domain.model.events import DomainEvent
from crm.domain.model.merging import not_found
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Principal
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork


async def load_for_change(
    uow: UnitOfWork, principal: Principal, contact_id: UUID, if_match: int | None
) -> Contact:
    contact = await uow.contacts.get_for_update(principal.workspace_id, contact_id)
    if contact is None:
        raise await merged_away(uow, RecordType.CONTACT, principal.workspace_id, contact_id)
    check_version("contact", if_match, contact.version)
    return contact


async def merged_away(
    uow: UnitOfWork, kind: RecordType, workspace_id: UUID, record_id: UUID, what: str = ""
) -> NotFound:
    """The 404 for a contact or company that is not there, naming its survivor if it was
    merged (the tombstone is read only on this path, never when the record exists)."""
    into = await uow.merges.merged_into(workspace_id, kind, record_id)
    return not_found(kind, record_id, into, what)


def check_version(kind: str, if_match: int | None, version: int) -> None:
    """409 when the caller's If-Match names another version than the stored `version`."""
    if if_match is not None and if_match != version:
        raise VersionConflict(
            f"If-Match names version {if_match} but the {kind} is at version {version}."
        )


async def check_owner(uow: UnitOfWork, principal: Principal, owner_id: UUID | None) -> None:
    if owner_id is not None and await uow.members.get(principal.workspace_id, owner_id) is None:
        raise InvalidInput(
            "The owner must be a member of the workspace.",
            errors=(FieldError("/owner_id", "owner_not_member", "not a member of this workspace"),),
        )


def new_event(
    ids: IdGenerator,
    clock: Clock,
    kind: type[DomainEvent],
    who: Principal,
    aggregate_id: UUID,
    payload: dict[str, Any],
) -> DomainEvent:
    """An event `who` causes now, in their workspace."""
    return kind(
        id=ids.new_id(),
        workspace_id=who.workspace_id,
        aggregate_id=aggregate_id,
        occurred_at=clock.now(),
        actor_id=who.actor_id,
        payload=payload,
    )
