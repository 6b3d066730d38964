"""Deals: create in a stage, change, move from stage to stage (with history), delete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from crm.domain.errors import (
    DealNotFound,
    FieldError,
    InvalidInput,
    PipelineNotFound,
    StageNotInPipeline,
)
from crm.domain.model.custom_fields import ObjectType, merge
from crm.domain.model.deal import Deal, DealData, StageChange, parse_fields
from crm.domain.model.events import DealCreated, DealDeleted, DealMoved, DealUpdated, DomainEvent
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.pipeline import Pipeline, Stage
from crm.domain.model.snapshot import changes_payload, jsonable
from crm.domain.model.tags import parse_tag_filter
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_owner, check_version, new_event
from crm.ports.deals import DealFilter, DealReader
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

_DEAL_FIELDS = Deal.__dataclass_fields__


def deal_snapshot(deal: Deal) -> dict[str, Any]:
    return {name: jsonable(getattr(deal, name)) for name in _DEAL_FIELDS}


def _not_in_pipeline(pointer: str, what: str, detail: str) -> StageNotInPipeline:
    return StageNotInPipeline(
        detail, errors=(FieldError(pointer, "not_in_pipeline", f"no such {what} here"),)
    )


class _Writer:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    def _event(
        self, cls: type[DomainEvent], who: Principal, deal: Deal, payload: dict[str, Any]
    ) -> DomainEvent:
        return new_event(self._ids, self._clock, cls, who, deal.id, payload)

    def _history(self, who: Principal, deal: Deal, from_stage: UUID | None) -> StageChange:
        return StageChange(
            self._ids.new_id(),
            deal.workspace_id,
            deal.id,
            from_stage,
            deal.stage_id,
            who.actor_id,
            deal.updated_at,
        )


async def load_deal(
    uow: UnitOfWork, who: Principal, deal_id: UUID, if_match: int | None = None
) -> Deal:
    deal = await uow.deals.get_for_update(who.workspace_id, deal_id)
    if deal is None:
        raise DealNotFound(f"No deal {deal_id} in this workspace.")
    check_version("deal", if_match, deal.version)
    return deal


@dataclass(frozen=True, slots=True)
class CreateDealCommand:
    principal: Principal
    fields: Mapping[str, Any]
    pipeline_id: UUID | None = None
    stage_id: UUID | None = None


class _FieldsWriter(_Writer):
    """A writer of deal fields: custom phone values are normalized like contacts' phones."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        super().__init__(uow, clock, ids)
        self._phones = phones


class CreateDeal(_FieldsWriter):
    """Create a deal; without a pipeline it goes to the default one, without a stage to the
    pipeline's first open stage. Its status is the stage's kind."""

    async def execute(self, cmd: CreateDealCommand) -> Deal:
        who = cmd.principal
        who.require(Action.WRITE_DEALS)
        data = DealData.parse(cmd.fields)
        async with self._uow() as uow:
            stage, pipeline = await self._place(uow, who, cmd.pipeline_id, cmd.stage_id)
            await check_owner(uow, who, data.owner_id)
            now = self._clock.now()
            deal = Deal.create(self._ids.new_id(), who.workspace_id, data, pipeline.id, stage, now)
            schema = await uow.custom_fields.schema(who.workspace_id, ObjectType.DEAL)
            values = schema.validate(data.custom_fields, self._phones.to_e164)
            deal.custom_fields = merge({}, values)
            await uow.tags.ensure(who.workspace_id, deal.tags, now)
            await uow.deals.add(deal)
            await uow.deals.add_history([self._history(who, deal, None)])
            await uow.outbox.add([self._event(DealCreated, who, deal, deal_snapshot(deal))])
            await uow.commit()
        return deal

    async def _place(
        self, uow: UnitOfWork, who: Principal, pipeline_id: UUID | None, stage_id: UUID | None
    ) -> tuple[Stage, Pipeline]:
        if pipeline_id is None:
            pipeline = await uow.pipelines.get_default(who.workspace_id)
            if pipeline is None:
                raise PipelineNotFound("This workspace has no default pipeline.")
        else:
            found = await uow.pipelines.get(who.workspace_id, pipeline_id)
            if found is None:
                raise _not_in_pipeline(
                    "/pipeline_id", "pipeline", "No such pipeline in this workspace."
                )
            pipeline = found
        if stage_id is None:
            return pipeline.first_open_stage(), pipeline
        stage = pipeline.stage(stage_id)
        if stage is None:
            raise _not_in_pipeline(
                "/stage_id",
                "stage of the pipeline",
                "The stage is not a stage of the pipeline given (or of the workspace's default "
                "pipeline when none is given).",
            )
        return stage, pipeline


class GetDeal:
    """Read one deal of the caller's workspace."""

    def __init__(self, deals: DealReader) -> None:
        self._deals = deals

    async def execute(self, principal: Principal, deal_id: UUID) -> Deal:
        principal.require(Action.READ_DEALS)
        deal = await self._deals.get(principal.workspace_id, deal_id)
        if deal is None:
            raise DealNotFound(f"No deal {deal_id} in this workspace.")
        return deal


class ListDeals:
    """List the workspace's deals a page at a time by creation time (keyset), optionally
    only those of a pipeline, a stage, a status or with all of the given tags."""

    def __init__(self, deals: DealReader) -> None:
        self._deals = deals

    async def execute(
        self, principal: Principal, page: PageRequest, where: DealFilter
    ) -> Page[Deal]:
        principal.require(Action.READ_DEALS)
        where = replace(where, tags=parse_tag_filter(where.tags))
        return await self._deals.list(principal.workspace_id, page, where)


class DealStageHistory:
    """A deal's stage history, oldest move first (its creation is the first entry)."""

    def __init__(self, deals: DealReader) -> None:
        self._deals = deals

    async def execute(
        self, principal: Principal, deal_id: UUID, page: PageRequest
    ) -> Page[StageChange]:
        principal.require(Action.READ_DEALS)
        found = await self._deals.history(principal.workspace_id, deal_id, page)
        if found is None:
            raise DealNotFound(f"No deal {deal_id} in this workspace.")
        return found


@dataclass(frozen=True, slots=True)
class UpdateDealCommand:
    principal: Principal
    deal_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdateDeal(_FieldsWriter):
    """Partially update a deal (not its stage: move it); null clears, a stale If-Match fails."""

    async def execute(self, cmd: UpdateDealCommand) -> Deal:
        cmd.principal.require(Action.WRITE_DEALS)
        changes = parse_fields(cmd.changes)
        if "name" in changes and changes["name"] is None:
            raise _required_name()
        async with self._uow() as uow:
            deal = await load_deal(uow, cmd.principal, cmd.deal_id, cmd.if_match)
            schema = await uow.custom_fields.schema(deal.workspace_id, ObjectType.DEAL)
            if "custom_fields" in changes:
                raw = changes["custom_fields"]
                changes["custom_fields"] = schema.validate(raw, self._phones.to_e164)
            version, now = deal.version, self._clock.now()
            changed = deal.apply(changes, now)
            if not changed:
                return replace(deal, custom_fields=schema.visible(deal.custom_fields))
            if "owner_id" in changed:
                await check_owner(uow, cmd.principal, deal.owner_id)
            if "tags" in changed:
                await uow.tags.ensure(deal.workspace_id, deal.tags, now)
            await uow.deals.save(deal, expected_version=version)
            await uow.outbox.add(
                [self._event(DealUpdated, cmd.principal, deal, changes_payload(changed))]
            )
            await uow.commit()
        return replace(deal, custom_fields=schema.visible(deal.custom_fields))


def _required_name() -> InvalidInput:
    return InvalidInput(
        "A deal keeps its name.", errors=(FieldError("/name", "required", "cannot be cleared"),)
    )


@dataclass(frozen=True, slots=True)
class MoveDealCommand:
    principal: Principal
    deal_id: UUID
    stage_id: UUID
    if_match: int | None = None


class MoveDeal(_Writer):
    """Move a deal to another stage of its pipeline, recording who moved it and when; its
    status follows the stage's kind. Moving it to the stage it is in changes nothing."""

    async def execute(self, cmd: MoveDealCommand) -> Deal:
        who = cmd.principal
        who.require(Action.WRITE_DEALS)
        async with self._uow() as uow:
            # Lock in the order stage changes do (the pipeline, then its deals), so a move and
            # a stage deletion never wait for each other both ways.
            found = await uow.deals.get(who.workspace_id, cmd.deal_id)
            if found is None:
                raise DealNotFound(f"No deal {cmd.deal_id} in this workspace.")
            pipeline = await uow.pipelines.get(who.workspace_id, found.pipeline_id)
            deal = await load_deal(uow, who, cmd.deal_id, cmd.if_match)
            stage = None if pipeline is None else pipeline.stage(cmd.stage_id)
            if stage is None:
                raise _not_in_pipeline(
                    "/stage_id",
                    "stage of the deal's pipeline",
                    "The stage is not a stage of the deal's pipeline; a deal moves only between "
                    "the stages of its own pipeline.",
                )
            version, before, was = deal.version, deal.stage_id, deal.status
            schema = await uow.custom_fields.schema(deal.workspace_id, ObjectType.DEAL)
            shown = schema.visible(deal.custom_fields)
            if not deal.move_to(stage, self._clock.now()):
                return replace(deal, custom_fields=shown)
            await uow.deals.save(deal, expected_version=version)
            await uow.deals.add_history([self._history(who, deal, before)])
            payload = {
                "pipeline_id": deal.pipeline_id,
                "from_stage_id": before,
                "to_stage_id": deal.stage_id,
                "from_status": was,
                "to_status": deal.status,
            }
            await uow.outbox.add([self._event(DealMoved, who, deal, jsonable(payload))])
            await uow.commit()
        return replace(deal, custom_fields=shown)


@dataclass(frozen=True, slots=True)
class DeleteDealCommand:
    principal: Principal
    deal_id: UUID
    if_match: int | None = None


class DeleteDeal(_Writer):
    """Delete a deal with its stage history, links and notes; its tasks stay, about no record
    (members: only deals they own)."""

    async def execute(self, cmd: DeleteDealCommand) -> None:
        cmd.principal.require(Action.WRITE_DEALS)
        async with self._uow() as uow:
            deal = await load_deal(uow, cmd.principal, cmd.deal_id, cmd.if_match)
            cmd.principal.require_delete(deal.owner_id, Action.WRITE_DEALS)
            await uow.deals.remove(deal)
            await uow.notes.remove_of_record(deal.workspace_id, RecordType.DEAL, deal.id)
            await uow.tasks.detach_record(
                deal.workspace_id, RecordType.DEAL, deal.id, self._clock.now()
            )
            await uow.outbox.add(
                [self._event(DealDeleted, cmd.principal, deal, deal_snapshot(deal))]
            )
            await uow.commit()
