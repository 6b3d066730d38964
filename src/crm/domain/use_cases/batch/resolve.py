"""Deciding each item's fate against the records the batch locked: create, update, leave
alone or fail. Pure: the writes happen afterwards, for the items that succeeded only."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic
from uuid import UUID

from crm.domain.errors import (
    AmbiguousMatch,
    DomainError,
    DuplicateInBatch,
    FieldError,
    InvalidInput,
)
from crm.domain.model.contact_rules import PhoneNormalizer
from crm.domain.model.custom_fields import FieldSchema, merge
from crm.domain.model.events import DomainEvent
from crm.domain.use_cases._shared import check_version, new_event
from crm.domain.use_cases.batch.kind import Item, Kind, R, values_of
from crm.domain.use_cases.batch.types import BatchCommand, BatchOperation, ItemStatus
from crm.ports.system import Clock, IdGenerator


@dataclass(slots=True)
class Outcome(Generic[R]):
    index: int
    status: ItemStatus
    stored: R | None = None
    shown: R | None = None
    error: DomainError | None = None
    events: list[DomainEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Tools:
    ids: IdGenerator
    clock: Clock
    to_e164: PhoneNormalizer


class Resolver(Generic[R]):
    """Walks the items in order; what an earlier item claimed (a key value, a record) makes a
    later item with the same claim fail `duplicate_in_batch`."""

    def __init__(
        self,
        kind: Kind[R],
        cmd: BatchCommand,
        match_on: str,
        found: Sequence[R],
        schema: FieldSchema,
        members: set[UUID],
        context: Any,
        tools: Tools,
    ) -> None:
        self._kind, self._cmd, self._match_on = kind, cmd, match_on
        self._schema, self._members, self._context, self._tools = schema, members, context, tools
        self._now: datetime = tools.clock.now()
        self._by_id = {r.id: r for r in found}
        self._holders: dict[tuple[str, str], set[UUID]] = defaultdict(set)
        for record in found:
            for key, attr in kind.key_attrs.items():
                for value in values_of(record, attr):
                    self._holders[(key, value)].add(record.id)
        self._claims: dict[tuple[str, str], int] = {}
        self._touched: dict[UUID, int] = {}

    def resolve(self, item: Item) -> Outcome[R]:
        try:
            if self._cmd.operation is BatchOperation.CREATE:
                return self._create(item)
            if self._cmd.operation is BatchOperation.UPDATE:
                return self._update(item, self._target(item))
            return self._upsert(item)
        except DomainError as error:
            return Outcome(item.index, ItemStatus.FAILED, error=error)

    def _target(self, item: Item) -> R:
        record = None if item.target is None else self._by_id.get(item.target)
        if record is None:
            raise self._kind.not_found(item.target)
        check_version(self._kind.noun, item.if_match, record.version)
        return record

    def _upsert(self, item: Item) -> Outcome[R]:
        key, attr = self._match_on, self._kind.key_attrs[self._match_on]
        values = values_of(item.new, attr)
        if not values:
            raise InvalidInput(
                f"An upsert by {key} needs the item's {attr}.",
                errors=(FieldError(f"/{attr}", "required", f"the match key ({key})"),),
            )
        self._check_claims(key, attr, values)
        matched = set().union(*(self._holders.get((key, v), set()) for v in values))
        if len(matched) > 1:
            names = ", ".join(sorted(str(m) for m in matched))
            raise AmbiguousMatch(f"The item's {attr} match several {self._kind.noun}s: {names}.")
        if not matched:
            return self._create(item)
        record = self._by_id[matched.pop()]
        if self._cmd.on_match == "skip":
            self._touch(record.id, item.index)
            return Outcome(item.index, ItemStatus.SKIPPED, shown=self._visible(record))
        return self._update(item, record)

    def _create(self, item: Item) -> Outcome[R]:
        self._check_unique(item.new, None)
        self._check_owner(getattr(item.new, "owner_id", None))
        values = self._schema.validate(item.new.custom_fields, self._tools.to_e164)
        record = self._kind.new_record(
            self._tools.ids.new_id(), self._cmd.principal, item, self._now, self._context
        )
        record.custom_fields = merge({}, values)
        payload = self._kind.snapshot(record)
        self._claim(record, item.index)
        return self._written(ItemStatus.CREATED, item, record, self._kind.created_event, payload)

    def _update(self, item: Item, record: R) -> Outcome[R]:
        if record.id in self._touched:
            n = self._touched[record.id]
            raise DuplicateInBatch(f"Item {n} of this batch already writes this {self._kind.noun}.")
        changes = dict(item.changes)
        if "custom_fields" in changes:
            changes["custom_fields"] = self._schema.validate(
                changes["custom_fields"], self._tools.to_e164
            )
        # A shallow copy is enough: `apply` sets new values, never changes the old ones.
        changed_record = copy.copy(record)
        changed = changed_record.apply(changes, self._now)
        if not changed:
            self._touch(record.id, item.index)
            return Outcome(item.index, ItemStatus.UNCHANGED, shown=self._visible(record))
        self._check_unique(changed_record, record.id)
        if "owner_id" in changed:
            self._check_owner(changed_record.owner_id)
        self._by_id[record.id] = changed_record
        self._claim(changed_record, item.index)
        payload = self._kind.changes_payload(changed)
        kind = self._kind.updated_event
        return self._written(ItemStatus.UPDATED, item, changed_record, kind, payload)

    def _written(
        self,
        status: ItemStatus,
        item: Item,
        record: R,
        event: type[DomainEvent],
        payload: dict[str, Any],
    ) -> Outcome[R]:
        self._touch(record.id, item.index)
        tools, who = self._tools, self._cmd.principal
        events = [new_event(tools.ids, tools.clock, event, who, record.id, payload)]
        return Outcome(item.index, status, record, self._visible(record), events=events)

    def _check_unique(self, source: Any, record_id: UUID | None) -> None:
        for key in self._kind.unique_keys:
            attr = self._kind.key_attrs[key]
            values = values_of(source, attr)
            for position, value in enumerate(values):
                holders = self._holders.get((key, value), set()) - {record_id}
                if holders:
                    raise self._kind.taken(key, value, position, min(holders))
            self._check_claims(key, attr, values)

    def _check_claims(self, key: str, attr: str, values: Iterable[str]) -> None:
        for value in values:
            earlier = self._claims.get((key, value))
            if earlier is not None:
                raise DuplicateInBatch(
                    f"Item {earlier} of this batch already has {key} {value}.",
                    errors=(FieldError(f"/{attr}", "duplicate_in_batch", f"as item {earlier}"),),
                )

    def _claim(self, record: R, index: int) -> None:
        keys = {*self._kind.unique_keys, self._match_on}
        for key in keys:
            for value in values_of(record, self._kind.key_attrs[key]):
                self._claims[(key, value)] = index

    def _touch(self, record_id: UUID, index: int) -> None:
        self._touched[record_id] = index

    def _check_owner(self, owner_id: UUID | None) -> None:
        if owner_id is not None and owner_id not in self._members:
            raise InvalidInput(
                "The owner must be a member of the workspace.",
                errors=(
                    FieldError("/owner_id", "owner_not_member", "not a member of this workspace"),
                ),
            )

    def _visible(self, record: R) -> R:
        return replace(record, custom_fields=self._schema.visible(record.custom_fields))  # type: ignore[type-var]
