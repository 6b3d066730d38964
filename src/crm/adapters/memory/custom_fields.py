"""Custom field definitions and the tag catalogue over `MemoryState` (see the contract tests)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import CustomFieldKeyTaken, TagNameTaken, VersionConflict
from crm.domain.model.custom_fields import CustomField, FieldSchema, ObjectType
from crm.domain.model.tags import Tag
from crm.domain.pagination import Page, PageRequest

_ids = Uuid7Generator()
# MemoryState attributes holding records that carry tags (companies and deals may be absent).
_TAGGED = ("contacts", "companies", "deals")


def _created(row: CustomField | Tag) -> tuple[datetime, UUID]:
    return (row.created_at, row.id)


class InMemoryCustomFieldRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, field: CustomField) -> None:
        for other in self._s.custom_fields.values():
            if (other.workspace_id, other.object_type, other.key) == (
                field.workspace_id,
                field.object_type,
                field.key,
            ):
                raise CustomFieldKeyTaken(
                    f"The {field.object_type} object already has a field {field.key!r}."
                )
        self._s.custom_fields[field.id] = copy.deepcopy(field)

    async def get(self, workspace_id: UUID, field_id: UUID) -> CustomField | None:
        found = self._s.custom_fields.get(field_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    get_for_update = get

    async def save(self, field: CustomField, expected_version: int) -> None:
        stored = self._s.custom_fields.get(field.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The custom field was changed by another writer.")
        self._s.custom_fields[field.id] = copy.deepcopy(field)

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]:
        rows = (
            f
            for f in self._s.custom_fields.values()
            if f.workspace_id == workspace_id and object_type in (None, f.object_type)
        )
        return keyset_page(rows, _created, page)

    async def schema(self, workspace_id: UUID, object_type: ObjectType) -> FieldSchema:
        return schema_of(self._s, workspace_id, object_type)


def schema_of(state: MemoryState, workspace_id: UUID, object_type: ObjectType) -> FieldSchema:
    return FieldSchema(
        object_type,
        [copy.copy(f) for f in state.custom_fields.values() if f.workspace_id == workspace_id],
    )


class InMemoryTagRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, tag: Tag) -> None:
        self._check_free(tag)
        self._s.tags[tag.id] = copy.deepcopy(tag)

    async def get(self, workspace_id: UUID, tag_id: UUID) -> Tag | None:
        found = self._s.tags.get(tag_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    get_for_update = get

    async def save(self, tag: Tag, expected_version: int, previous_name: str | None = None) -> None:
        stored = self._s.tags.get(tag.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The tag was changed by another writer.")
        self._check_free(tag)
        self._s.tags[tag.id] = copy.deepcopy(tag)
        if previous_name is not None and previous_name != tag.name:
            self._retag(
                tag.workspace_id,
                lambda tags: tuple(
                    dict.fromkeys(tag.name if t == previous_name else t for t in tags)
                ),
                previous_name,
                tag.updated_at,
            )

    async def remove(self, tag: Tag) -> None:
        self._s.tags.pop(tag.id, None)
        self._retag(
            tag.workspace_id,
            lambda tags: tuple(t for t in tags if t != tag.name),
            tag.name,
            None,
        )

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Tag]:
        rows = (t for t in self._s.tags.values() if t.workspace_id == workspace_id)
        return keyset_page(rows, _created, page)

    async def ensure(self, workspace_id: UUID, names: Iterable[str], now: datetime) -> None:
        known = {t.name for t in self._s.tags.values() if t.workspace_id == workspace_id}
        for name in dict.fromkeys(names):
            if name not in known:
                tag = Tag(_ids.new_id(), workspace_id, name, None, now, now)
                self._s.tags[tag.id] = tag

    def _check_free(self, tag: Tag) -> None:
        for other in self._s.tags.values():
            if (
                other.workspace_id == tag.workspace_id
                and other.name == tag.name
                and other.id != tag.id
            ):
                raise TagNameTaken(f"The tag {tag.name!r} is already in the catalogue.")

    def _retag(
        self,
        workspace_id: UUID,
        change: Callable[[tuple[str, ...]], tuple[str, ...]],
        name: str,
        now: datetime | None,
    ) -> None:
        """Rewrite the tags of every record carrying `name`; their version moves on."""
        for attribute in _TAGGED:
            records: dict[Any, Any] = getattr(self._s, attribute, {})
            for key, record in list(records.items()):
                if record.workspace_id != workspace_id or name not in record.tags:
                    continue
                updates: dict[str, Any] = {"tags": change(tuple(record.tags))}
                if hasattr(record, "version"):
                    updates["version"] = record.version + 1
                if now is not None and hasattr(record, "updated_at"):
                    updates["updated_at"] = now
                records[key] = dataclasses.replace(record, **updates)


class InMemoryCustomFieldReader:
    """Reads of the committed definitions, as copies."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, field_id: UUID) -> CustomField | None:
        return await InMemoryCustomFieldRepository(self._store.state).get(workspace_id, field_id)

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]:
        repository = InMemoryCustomFieldRepository(self._store.state)
        return await repository.list(workspace_id, page, object_type)


class InMemoryTagReader:
    """Reads of the committed tag catalogue, as copies."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, tag_id: UUID) -> Tag | None:
        return await InMemoryTagRepository(self._store.state).get(workspace_id, tag_id)

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Tag]:
        return await InMemoryTagRepository(self._store.state).list(workspace_id, page)
