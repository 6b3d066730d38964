"""The batch engine: parse every item, resolve them all against the records they name or
match (read and locked once), write the good ones with a few multi-row statements in one unit
of work, and, when the database refuses that (a concurrent writer took a unique value in the
meantime), write them again one unit of work per item so that only the offending item fails."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Generic
from uuid import UUID

from crm.domain.errors import DomainError, FieldError, InvalidInput
from crm.domain.model.contact_rules import PhoneNormalizer
from crm.domain.use_cases.batch import shapes
from crm.domain.use_cases.batch.kind import Item, Kind, R, values_of
from crm.domain.use_cases.batch.resolve import Outcome, Resolver, Tools
from crm.domain.use_cases.batch.types import (
    BatchCommand,
    BatchOperation,
    ItemResult,
    ItemStatus,
)
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

_WRITTEN = (ItemStatus.CREATED, ItemStatus.UPDATED)


class Refused(Exception):
    """The database refused the batch's writes; `outcomes` is what the resolver had planned."""

    def __init__(self, error: DomainError, outcomes: dict[int, Outcome[Any]]) -> None:
        super().__init__(error.detail)
        self.error, self.outcomes = error, outcomes


class BatchEngine(Generic[R]):
    kind: Kind[R]

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        self._uow = uow
        self._tools = Tools(ids, clock, cached_phones(phones))

    async def execute(self, cmd: BatchCommand) -> list[ItemResult]:
        cmd.principal.require(self.kind.action)
        match_on = self._match_key(cmd)
        outcomes: dict[int, Outcome[R]] = {}
        items: list[Item] = []
        for index, raw in enumerate(cmd.items):
            try:
                items.append(self._parse(index, raw, cmd.operation))
            except DomainError as error:
                outcomes[index] = Outcome(index, ItemStatus.FAILED, error=error)
        if items:
            outcomes.update(await self._attempt(cmd, match_on, items))
        return [_result(outcomes[i]) for i in range(len(cmd.items))]

    def _match_key(self, cmd: BatchCommand) -> str:
        key = cmd.match_on or self.kind.match_keys[0]
        if key not in self.kind.match_keys:
            allowed = ", ".join(self.kind.match_keys)
            raise InvalidInput(
                f"A {self.kind.noun} batch matches on {allowed}.",
                errors=(FieldError("/match_on", "invalid_choice", f"one of: {allowed}"),),
            )
        return key

    def _parse(self, index: int, raw: Any, operation: BatchOperation) -> Item:
        kind = self.kind
        shaped = shapes.check(raw, {**kind.shapes, **shapes.UPDATE_KEYS})
        item = Item(index)
        if operation is BatchOperation.UPDATE:
            item.target, item.if_match = shaped.pop("id", None), shaped.pop("if_match", None)
            if item.target is None:
                raise InvalidInput(
                    "An update item names the record by its id.",
                    errors=(FieldError("/id", "required", f"the {kind.noun}'s id"),),
                )
            item.changes = kind.parse_changes(shaped)
            return item
        # Placement (a deal's pipeline and stage) is for new records only.
        item.extra = {k: shaped.pop(k) for k in kind.extra_fields if k in shaped}
        item.new = kind.parse_new(shaped)
        if operation is BatchOperation.UPSERT:
            item.changes = kind.parse_changes(shaped)
        return item

    async def _attempt(
        self, cmd: BatchCommand, match_on: str, items: Sequence[Item]
    ) -> dict[int, Outcome[R]]:
        try:
            return await self._run(cmd, match_on, items)
        except Refused as refused:
            planned = refused.outcomes
        # Someone else wrote meanwhile: keep what the plan decided for items that write nothing
        # (failures, duplicates, unchanged) and retry the writers one unit of work each.
        outcomes = {i: o for i, o in planned.items() if o.status not in _WRITTEN}
        for item in items:
            if item.index in outcomes:
                continue
            try:
                outcomes.update(await self._run(cmd, match_on, [item]))
            except Refused as alone:
                outcomes[item.index] = Outcome(item.index, ItemStatus.FAILED, error=alone.error)
        return outcomes

    async def _run(
        self, cmd: BatchCommand, match_on: str, items: Sequence[Item]
    ) -> dict[int, Outcome[R]]:
        async with self._uow() as uow:
            resolver = await self._resolver(uow, cmd, match_on, items)
            outcomes = {item.index: resolver.resolve(item) for item in items}
            try:
                await self._write(uow, cmd, list(outcomes.values()))
            except DomainError as error:
                raise Refused(error, outcomes) from error
            await uow.commit()
        return outcomes

    async def _resolver(
        self, uow: UnitOfWork, cmd: BatchCommand, match_on: str, items: Sequence[Item]
    ) -> Resolver[R]:
        kind, who = self.kind, cmd.principal
        ids = {i.target for i in items if i.target is not None}
        keys = {k: self._key_values(items, k) for k in {*kind.unique_keys, match_on}}
        found: list[R] = []
        if ids or any(keys.values()):
            found = await kind.store(uow).lock(who.workspace_id, ids, keys)
        schema = await uow.custom_fields.schema(who.workspace_id, kind.object_type)
        owners = {o for i in items if (o := _owner(i)) is not None}
        members = await uow.batch.members_among(who.workspace_id, owners) if owners else set()
        context = await kind.context(uow, who, items)
        return Resolver(kind, cmd, match_on, found, schema, members, context, self._tools)

    def _key_values(self, items: Sequence[Item], key: str) -> set[str]:
        attr = self.kind.key_attrs[key]
        return {v for i in items for v in (*values_of(i.new, attr), *values_of(i.changes, attr))}

    async def _write(
        self, uow: UnitOfWork, cmd: BatchCommand, outcomes: Sequence[Outcome[R]]
    ) -> None:
        who, store = cmd.principal, self.kind.store(uow)
        added = [o.stored for o in outcomes if o.status is ItemStatus.CREATED and o.stored]
        saved = [o.stored for o in outcomes if o.status is ItemStatus.UPDATED and o.stored]
        tags = {t for r in (*added, *saved) for t in r.tags}
        if tags:
            await uow.tags.ensure(who.workspace_id, sorted(tags), self._tools.clock.now())
        if added:
            await store.add_many(added)
            await self.kind.after_add(uow, who, added)
        if saved:
            await store.save_many(saved)
        events = [e for o in outcomes for e in o.events]
        if events:
            await uow.outbox.add(events)


def cached_phones(phones: PhoneNumbers) -> PhoneNormalizer:
    """Parsing a number is the costliest rule of an item; an upsert parses each one twice
    (as create data and as changes) and imports repeat numbers."""
    return functools.lru_cache(maxsize=8192)(phones.to_e164)


def _owner(item: Item) -> UUID | None:
    owner = item.changes.get("owner_id") or getattr(item.new, "owner_id", None)
    return owner if isinstance(owner, UUID) else None


def _result(outcome: Outcome[Any]) -> ItemResult:
    return ItemResult(outcome.index, outcome.status, outcome.shown, outcome.error)
