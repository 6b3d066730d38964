"""What the batch engine needs to know about one object type (contacts, companies, deals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from crm.domain.errors import DomainError
from crm.domain.model.changes import FieldChange
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.events import DomainEvent
from crm.domain.model.permissions import Action, Principal
from crm.ports.batch import BatchStore
from crm.ports.unit_of_work import UnitOfWork


class Record(Protocol):
    id: UUID
    workspace_id: UUID
    owner_id: UUID | None
    tags: tuple[str, ...]
    custom_fields: dict[str, Any]
    version: int

    def apply(self, changes: Mapping[str, Any], now: datetime) -> dict[str, FieldChange]: ...


R = TypeVar("R", bound=Record)


@dataclass(slots=True)
class Item:
    """One parsed item: `new` (create data) for create and upsert, `changes` for update and
    upsert, `target` and `if_match` for update; `extra` holds placement fields (deals)."""

    index: int
    new: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    target: UUID | None = None
    if_match: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Kind(Generic[R]):
    """An object type as the batch engine sees it; subclasses fill in the specifics."""

    noun: str
    object_type: ObjectType
    action: Action
    shapes: Mapping[str, Any]
    match_keys: tuple[str, ...]  # the first is the default upsert key
    unique_keys: tuple[str, ...]  # keys one record per workspace holds
    key_attrs: Mapping[str, str]  # key name -> the record's (and the data's) attribute
    extra_fields: tuple[str, ...] = ()
    created_event: type[DomainEvent]
    updated_event: type[DomainEvent]

    def store(self, uow: UnitOfWork) -> BatchStore[R]:
        raise NotImplementedError

    def parse_new(self, raw: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def parse_changes(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def new_record(self, id: UUID, who: Principal, item: Item, now: datetime, context: Any) -> R:
        raise NotImplementedError

    def snapshot(self, record: R) -> dict[str, Any]:
        raise NotImplementedError

    def changes_payload(self, changed: Mapping[str, FieldChange]) -> dict[str, Any]:
        raise NotImplementedError

    def not_found(self, record_id: UUID | None) -> DomainError:
        raise NotImplementedError

    def taken(self, key: str, value: str, position: int, holder: UUID) -> DomainError:
        raise NotImplementedError

    async def context(self, uow: UnitOfWork, who: Principal, items: Sequence[Item]) -> Any:
        """What creating records needs besides their data, read once (deals: pipelines)."""
        return None

    async def after_add(self, uow: UnitOfWork, who: Principal, records: Sequence[R]) -> None:
        """Rows that go with new records (deals: the first stage-history entry)."""


def values_of(source: Any, attr: str) -> tuple[str, ...]:
    """A key's values on a record, create data or a changes mapping (lists or one value)."""
    value = source.get(attr) if isinstance(source, Mapping) else getattr(source, attr, None)
    if value is None:
        return ()
    return tuple(value) if isinstance(value, tuple | list) else (value,)
