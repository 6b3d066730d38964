"""Batch writes of deals: upsert by external id; new deals go where a created deal goes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import (
    DealNotFound,
    DomainError,
    ExternalIdTaken,
    FieldError,
    InvalidInput,
    PipelineNotFound,
    StageNotInPipeline,
)
from crm.domain.model.changes import FieldChange
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.deal import Deal, DealData, StageChange, parse_fields
from crm.domain.model.events import DealCreated, DealUpdated
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.pipeline import Pipeline
from crm.domain.model.snapshot import changes_payload
from crm.domain.use_cases.batch import shapes
from crm.domain.use_cases.batch.engine import BatchEngine
from crm.domain.use_cases.batch.kind import Item, Kind
from crm.domain.use_cases.deals import deal_snapshot
from crm.ports.batch import BatchStore
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

Pipelines = dict[UUID | None, Pipeline | None]


class DealKind(Kind[Deal]):
    noun = "deal"
    object_type = ObjectType.DEAL
    action = Action.WRITE_DEALS
    shapes = shapes.DEAL
    match_keys = ("external_id",)
    unique_keys = ("external_id",)
    key_attrs = {"external_id": "external_id"}
    extra_fields = ("pipeline_id", "stage_id")
    created_event = DealCreated
    updated_event = DealUpdated

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids

    def store(self, uow: UnitOfWork) -> BatchStore[Deal]:
        return uow.batch.deals

    def parse_new(self, raw: Mapping[str, Any]) -> DealData:
        return DealData.parse(raw)

    def parse_changes(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        changes = parse_fields(raw)
        if "name" in changes and changes["name"] is None:
            raise InvalidInput(
                "A deal keeps its name.",
                errors=(FieldError("/name", "required", "cannot be cleared"),),
            )
        return changes

    async def context(self, uow: UnitOfWork, who: Principal, items: Sequence[Item]) -> Pipelines:
        """Each pipeline the new deals go to, read (and share-locked) once."""
        found: Pipelines = {}
        for wanted in {i.extra.get("pipeline_id") for i in items if i.new is not None}:
            pipelines = uow.pipelines
            found[wanted] = await (
                pipelines.get_default(who.workspace_id)
                if wanted is None
                else pipelines.get(who.workspace_id, wanted)
            )
        return found

    def new_record(
        self, id: UUID, who: Principal, item: Item, now: datetime, context: Pipelines
    ) -> Deal:
        pipeline_id, stage_id = item.extra.get("pipeline_id"), item.extra.get("stage_id")
        pipeline = context.get(pipeline_id)
        if pipeline is None and pipeline_id is None:
            raise PipelineNotFound("This workspace has no default pipeline.")
        if pipeline is None:
            raise _not_in_pipeline("/pipeline_id", "No such pipeline in this workspace.")
        stage = pipeline.first_open_stage() if stage_id is None else pipeline.stage(stage_id)
        if stage is None:
            raise _not_in_pipeline("/stage_id", "The stage is not a stage of the pipeline.")
        return Deal.create(id, who.workspace_id, item.new, pipeline.id, stage, now)

    async def after_add(self, uow: UnitOfWork, who: Principal, records: Sequence[Deal]) -> None:
        """Each new deal's first stage-history entry (from no stage)."""
        await uow.deals.add_history(
            [
                StageChange(
                    self._ids.new_id(),
                    d.workspace_id,
                    d.id,
                    None,
                    d.stage_id,
                    who.actor_id,
                    d.updated_at,
                )
                for d in records
            ]
        )

    def snapshot(self, record: Deal) -> dict[str, Any]:
        return deal_snapshot(record)

    def changes_payload(self, changed: Mapping[str, FieldChange]) -> dict[str, Any]:
        return changes_payload(changed)

    def not_found(self, record_id: UUID | None) -> DomainError:
        return DealNotFound(f"No deal {record_id} in this workspace.")

    def taken(self, key: str, value: str, position: int, holder: UUID) -> DomainError:
        return ExternalIdTaken.held_by("deal", value, holder)


def _not_in_pipeline(pointer: str, detail: str) -> StageNotInPipeline:
    return StageNotInPipeline(
        detail, errors=(FieldError(pointer, "not_in_pipeline", "not in this pipeline"),)
    )


class BatchDeals(BatchEngine[Deal]):
    """Create, update or upsert up to 100 deals (any number through the use case), each item
    on its own: good items are written even when others fail, a failed item leaves nothing
    behind. Upserts match on `external_id`; a match is updated like a PATCH (its pipeline and
    stage stay: deals move with /move). New deals go to `pipeline_id` (else the default
    pipeline), `stage_id` (else its first open stage)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        super().__init__(uow, clock, ids, phones)
        self.kind = DealKind(ids)
