"""Custom field definitions and the tag catalogue: admins manage them, everyone reads them
(reads go through the readers: one round trip each, no transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import CustomFieldNotFound, TagNotFound
from crm.domain.model.changes import FieldChange
from crm.domain.model.custom_fields import CustomField, ObjectType
from crm.domain.model.events import (
    CustomFieldCreated,
    CustomFieldUpdated,
    TagCreated,
    TagDeleted,
    TagUpdated,
)
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import changes_payload, jsonable
from crm.domain.model.tags import Tag
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_version, new_event
from crm.ports.repositories import CustomFieldReader, TagReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


class CreateCustomField:
    """Define a field; its key is unique per object type (409 otherwise)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, principal: Principal, raw: Mapping[str, Any]) -> CustomField:
        principal.require(Action.MANAGE_CUSTOM_FIELDS)
        field = CustomField.create(
            self._ids.new_id(), principal.workspace_id, raw, self._clock.now()
        )
        async with self._uow() as uow:
            await uow.custom_fields.add(field)
            event = new_event(
                self._ids, self._clock, CustomFieldCreated, principal, field.id, _view(field)
            )
            await uow.outbox.add([event])
            await uow.commit()
        return field


@dataclass(frozen=True, slots=True)
class UpdateCustomFieldCommand:
    principal: Principal
    field_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdateCustomField:
    """Relabel, change options, archive (`archived: true`) or unarchive (`archived: false`)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: UpdateCustomFieldCommand) -> CustomField:
        cmd.principal.require(Action.MANAGE_CUSTOM_FIELDS)
        async with self._uow() as uow:
            field = await uow.custom_fields.get_for_update(cmd.principal.workspace_id, cmd.field_id)
            if field is None:
                raise CustomFieldNotFound(f"No custom field {cmd.field_id} in this workspace.")
            check_version("custom field", cmd.if_match, field.version)
            version, before = field.version, _view(field)
            if field.apply(cmd.changes, self._clock.now()):
                await uow.custom_fields.save(field, expected_version=version)
                payload = {"object_type": field.object_type.value, "key": field.key}
                payload |= _diff(before, _view(field))
                kind = CustomFieldUpdated
                event = new_event(self._ids, self._clock, kind, cmd.principal, field.id, payload)
                await uow.outbox.add([event])
                await uow.commit()
        return field


class GetCustomField:
    def __init__(self, fields: CustomFieldReader) -> None:
        self._fields = fields

    async def execute(self, principal: Principal, field_id: UUID) -> CustomField:
        principal.require(Action.READ_SCHEMA)
        field = await self._fields.get(principal.workspace_id, field_id)
        if field is None:
            raise CustomFieldNotFound(f"No custom field {field_id} in this workspace.")
        return field


class ListCustomFields:
    """Every definition (archived ones too), optionally of one object type."""

    def __init__(self, fields: CustomFieldReader) -> None:
        self._fields = fields

    async def execute(
        self, principal: Principal, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]:
        principal.require(Action.READ_SCHEMA)
        return await self._fields.list(principal.workspace_id, page, object_type)


class CreateTag:
    """Add a tag to the catalogue (writing a record with a new tag adds it too)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, principal: Principal, raw: Mapping[str, Any]) -> Tag:
        principal.require(Action.MANAGE_TAGS)
        tag = Tag.create(self._ids.new_id(), principal.workspace_id, raw, self._clock.now())
        async with self._uow() as uow:
            await uow.tags.add(tag)
            payload = {"name": tag.name, "color": tag.color}
            event = new_event(self._ids, self._clock, TagCreated, principal, tag.id, payload)
            await uow.outbox.add([event])
            await uow.commit()
        return tag


@dataclass(frozen=True, slots=True)
class UpdateTagCommand:
    principal: Principal
    tag_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdateTag:
    """Rename and/or recolour; a rename reaches every contact, company and deal carrying the
    tag in the same transaction. Renaming onto an existing tag's name is 409."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: UpdateTagCommand) -> Tag:
        cmd.principal.require(Action.MANAGE_TAGS)
        async with self._uow() as uow:
            tag = await _tag_for_change(uow, cmd.principal, cmd.tag_id, cmd.if_match)
            version = tag.version
            changed = tag.apply(cmd.changes, self._clock.now())
            if changed:
                previous = changed["name"].old if "name" in changed else None
                await uow.tags.save(tag, expected_version=version, previous_name=previous)
                payload = changes_payload(changed)
                event = new_event(
                    self._ids, self._clock, TagUpdated, cmd.principal, tag.id, payload
                )
                await uow.outbox.add([event])
                await uow.commit()
        return tag


class DeleteTag:
    """Remove a tag from the catalogue and from every record carrying it."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, principal: Principal, tag_id: UUID, if_match: int | None) -> None:
        principal.require(Action.MANAGE_TAGS)
        async with self._uow() as uow:
            tag = await _tag_for_change(uow, principal, tag_id, if_match)
            await uow.tags.remove(tag)
            payload = {"name": tag.name, "color": tag.color}
            event = new_event(self._ids, self._clock, TagDeleted, principal, tag.id, payload)
            await uow.outbox.add([event])
            await uow.commit()


async def _tag_for_change(
    uow: UnitOfWork, principal: Principal, tag_id: UUID, if_match: int | None
) -> Tag:
    tag = await uow.tags.get_for_update(principal.workspace_id, tag_id)
    if tag is None:
        raise TagNotFound(f"No tag {tag_id} in this workspace.")
    check_version("tag", if_match, tag.version)
    return tag


class GetTag:
    def __init__(self, tags: TagReader) -> None:
        self._tags = tags

    async def execute(self, principal: Principal, tag_id: UUID) -> Tag:
        principal.require(Action.READ_SCHEMA)
        tag = await self._tags.get(principal.workspace_id, tag_id)
        if tag is None:
            raise TagNotFound(f"No tag {tag_id} in this workspace.")
        return tag


class ListTags:
    def __init__(self, tags: TagReader) -> None:
        self._tags = tags

    async def execute(self, principal: Principal, page: PageRequest) -> Page[Tag]:
        principal.require(Action.READ_SCHEMA)
        return await self._tags.list(principal.workspace_id, page)


def _view(field: CustomField) -> dict[str, Any]:
    """A definition as events record it."""
    return {
        "object_type": field.object_type.value,
        "key": field.key,
        "label": field.label,
        "field_type": field.field_type.value,
        "options": [{"value": o.value, "label": o.label} for o in field.options],
        "archived_at": jsonable(field.archived_at),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changed = {k: FieldChange(before[k], v) for k, v in after.items() if before[k] != v}
    return changes_payload(changed)
