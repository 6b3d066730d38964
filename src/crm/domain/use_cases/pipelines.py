"""Pipelines and their stages: read by everyone, changed by admins and owners."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import (
    DefaultPipelineRequired,
    FieldError,
    PipelineHasDeals,
    PipelineNotFound,
    StageHasDeals,
    StageNotFound,
    StageNotInPipeline,
)
from crm.domain.model import pipeline as rules
from crm.domain.model.deal import StageChange
from crm.domain.model.events import (
    DealMoved,
    DomainEvent,
    PipelineCreated,
    PipelineDeleted,
    PipelineUpdated,
)
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.pipeline import Pipeline, Stage, StageSpec, StageSummary
from crm.domain.model.snapshot import jsonable
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_version, new_event
from crm.ports.deals import PipelineReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


def pipeline_snapshot(p: Pipeline) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "name": p.name,
        "is_default": p.is_default,
        "stages": [
            {"id": str(s.id), "name": s.name, "probability": s.probability, "kind": s.kind.value}
            for s in p.stages
        ],
        "version": p.version,
    }


class _Writer:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    def _event(self, cls: type[DomainEvent], who: Principal, p: Pipeline) -> DomainEvent:
        return new_event(self._ids, self._clock, cls, who, p.id, pipeline_snapshot(p))

    async def _load(
        self, uow: UnitOfWork, who: Principal, pipeline_id: UUID, if_match: int | None = None
    ) -> Pipeline:
        found = await uow.pipelines.get_for_update(who.workspace_id, pipeline_id)
        if found is None:
            raise PipelineNotFound(f"No pipeline {pipeline_id} in this workspace.")
        check_version("pipeline", if_match, found.version)
        return found

    async def _save(self, uow: UnitOfWork, who: Principal, p: Pipeline, version: int) -> None:
        p.touch(self._clock.now())
        await uow.pipelines.save(p, expected_version=version)
        await uow.outbox.add([self._event(PipelineUpdated, who, p)])
        await uow.commit()


def _specs(raw: Sequence[Mapping[str, Any]]) -> list[StageSpec]:
    return [StageSpec.parse(s, f"/stages/{i}") for i, s in enumerate(raw)]


@dataclass(frozen=True, slots=True)
class CreatePipelineCommand:
    principal: Principal
    name: str
    stages: Sequence[Mapping[str, Any]]
    is_default: bool = False


class CreatePipeline(_Writer):
    """Create a pipeline with its stages in order (at least one open stage); made the default,
    it takes over from the current default."""

    async def execute(self, cmd: CreatePipelineCommand) -> Pipeline:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        name, specs, now = rules.name(cmd.name), _specs(cmd.stages), self._clock.now()
        p = Pipeline.create(
            self._ids.new_id(),
            cmd.principal.workspace_id,
            name,
            specs,
            self._ids.new_id,
            now,
            is_default=cmd.is_default,
        )
        async with self._uow() as uow:
            if p.is_default:
                await uow.pipelines.clear_default(p.workspace_id)
            await uow.pipelines.add(p)
            await uow.outbox.add([self._event(PipelineCreated, cmd.principal, p)])
            await uow.commit()
        return p


class GetPipeline:
    """Read a pipeline with its stages in order."""

    def __init__(self, pipelines: PipelineReader) -> None:
        self._pipelines = pipelines

    async def execute(self, principal: Principal, pipeline_id: UUID) -> Pipeline:
        principal.require(Action.READ_SCHEMA)
        found = await self._pipelines.get(principal.workspace_id, pipeline_id)
        if found is None:
            raise PipelineNotFound(f"No pipeline {pipeline_id} in this workspace.")
        return found


class ListPipelines:
    """List the workspace's pipelines with their stages, oldest first."""

    def __init__(self, pipelines: PipelineReader) -> None:
        self._pipelines = pipelines

    async def execute(self, principal: Principal, page: PageRequest) -> Page[Pipeline]:
        principal.require(Action.READ_SCHEMA)
        return await self._pipelines.list(principal.workspace_id, page)


class SummarizePipeline:
    """Deals per stage of a pipeline: how many, and their amounts summed per currency."""

    def __init__(self, pipelines: PipelineReader) -> None:
        self._pipelines = pipelines

    async def execute(self, principal: Principal, pipeline_id: UUID) -> list[StageSummary]:
        principal.require(Action.READ_DEALS)
        found = await self._pipelines.summary(principal.workspace_id, pipeline_id)
        if found is None:
            raise PipelineNotFound(f"No pipeline {pipeline_id} in this workspace.")
        return found


@dataclass(frozen=True, slots=True)
class UpdatePipelineCommand:
    principal: Principal
    pipeline_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdatePipeline(_Writer):
    """Rename a pipeline or make it the default (the former default stops being one); the
    default cannot be unset, only handed to another pipeline."""

    async def execute(self, cmd: UpdatePipelineCommand) -> Pipeline:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        name = cmd.changes.get("name")
        new_name = None if name is None else rules.name(name)
        async with self._uow() as uow:
            p = await self._load(uow, cmd.principal, cmd.pipeline_id, cmd.if_match)
            version = p.version
            make_default = cmd.changes.get("is_default")
            if make_default is False and p.is_default:
                raise DefaultPipelineRequired(
                    "Make another pipeline the default instead; the workspace keeps one."
                )
            changed = new_name is not None and new_name != p.name
            p.name = new_name or p.name
            if make_default and not p.is_default:
                await uow.pipelines.clear_default(p.workspace_id)
                p.is_default, changed = True, True
            if not changed:
                return p
            await self._save(uow, cmd.principal, p, version)
        return p


@dataclass(frozen=True, slots=True)
class DeletePipelineCommand:
    principal: Principal
    pipeline_id: UUID
    if_match: int | None = None


class DeletePipeline(_Writer):
    """Delete a pipeline that holds no deals and is not the workspace's default."""

    async def execute(self, cmd: DeletePipelineCommand) -> None:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        async with self._uow() as uow:
            p = await self._load(uow, cmd.principal, cmd.pipeline_id, cmd.if_match)
            if p.is_default:
                raise DefaultPipelineRequired(
                    "Make another pipeline the default before deleting this one."
                )
            held = await uow.deals.count_in(p.workspace_id, p.id, None)
            if held:
                raise PipelineHasDeals(
                    f"{held} deal(s) are in this pipeline; move or delete them first."
                )
            await uow.pipelines.remove(p)
            await uow.outbox.add([self._event(PipelineDeleted, cmd.principal, p)])
            await uow.commit()


@dataclass(frozen=True, slots=True)
class AddStageCommand:
    principal: Principal
    pipeline_id: UUID
    stage: Mapping[str, Any]
    position: int | None = None


class AddStage(_Writer):
    """Add a stage at `position` (0 is first; by default the end)."""

    async def execute(self, cmd: AddStageCommand) -> tuple[Pipeline, Stage]:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        spec = StageSpec.parse(cmd.stage)
        async with self._uow() as uow:
            p = await self._load(uow, cmd.principal, cmd.pipeline_id)
            version, now = p.version, self._clock.now()
            stage = Stage(self._ids.new_id(), spec.name, spec.probability, spec.kind, 0, now)
            p.add_stage(stage, cmd.position)
            await self._save(uow, cmd.principal, p, version)
        return p, stage


def _stage(p: Pipeline, stage_id: UUID) -> Stage:
    found = p.stage(stage_id)
    if found is None:
        raise StageNotFound(f"No stage {stage_id} in pipeline {p.id}.")
    return found


@dataclass(frozen=True, slots=True)
class UpdateStageCommand:
    principal: Principal
    pipeline_id: UUID
    stage_id: UUID
    changes: Mapping[str, Any]


class UpdateStage(_Writer):
    """Rename a stage or change its probability; its kind changes only while it holds no
    deals (their status follows the kind)."""

    async def execute(self, cmd: UpdateStageCommand) -> tuple[Pipeline, Stage]:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        parse = {"name": rules.name, "probability": rules.probability, "kind": rules.kind}
        changes = {k: parse[k](v) for k, v in cmd.changes.items() if v is not None}
        async with self._uow() as uow:
            p = await self._load(uow, cmd.principal, cmd.pipeline_id)
            stage, version = _stage(p, cmd.stage_id), p.version
            if changes.get("kind", stage.kind) != stage.kind and await uow.deals.count_in(
                p.workspace_id, p.id, stage.id
            ):
                raise StageHasDeals("Move the stage's deals elsewhere before changing its kind.")
            if p.change_stage(stage, changes):
                await self._save(uow, cmd.principal, p, version)
        return p, stage


@dataclass(frozen=True, slots=True)
class DeleteStageCommand:
    principal: Principal
    pipeline_id: UUID
    stage_id: UUID
    move_deals_to: UUID | None = None


class DeleteStage(_Writer):
    """Delete a stage; deals still in it must be moved to another stage of the pipeline in the
    same call (`move_deals_to`), which records each move in their stage history."""

    async def execute(self, cmd: DeleteStageCommand) -> Pipeline:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        async with self._uow() as uow:
            p = await self._load(uow, cmd.principal, cmd.pipeline_id)
            stage, version = _stage(p, cmd.stage_id), p.version
            target = None if cmd.move_deals_to is None else p.stage(cmd.move_deals_to)
            if cmd.move_deals_to is not None and (target is None or target is stage):
                raise StageNotInPipeline(
                    "move_deals_to must name another stage of this pipeline.",
                    errors=(_query_error("move_deals_to"),),
                )
            p.remove_stage(stage)
            if target is not None:
                await self._move_deals(uow, cmd.principal, p, stage, target)
            elif held := await uow.deals.count_in(p.workspace_id, p.id, stage.id):
                raise StageHasDeals(
                    f"{held} deal(s) are in this stage; name a stage to move them to "
                    "with move_deals_to."
                )
            await self._save(uow, cmd.principal, p, version)
        return p

    async def _move_deals(
        self, uow: UnitOfWork, who: Principal, p: Pipeline, stage: Stage, target: Stage
    ) -> None:
        now = self._clock.now()
        moved = await uow.deals.move_all(p.workspace_id, stage.id, target, now)
        history, events = [], []
        for deal_id, was in moved:
            history.append(
                StageChange(
                    self._ids.new_id(),
                    p.workspace_id,
                    deal_id,
                    stage.id,
                    target.id,
                    who.actor_id,
                    now,
                )
            )
            events.append(
                DealMoved(
                    id=self._ids.new_id(),
                    workspace_id=p.workspace_id,
                    aggregate_id=deal_id,
                    occurred_at=now,
                    actor_id=who.actor_id,
                    payload=jsonable(
                        {
                            "pipeline_id": p.id,
                            "from_stage_id": stage.id,
                            "to_stage_id": target.id,
                            "from_status": was,
                            "to_status": target.kind,
                        }
                    ),
                )
            )
        await uow.deals.add_history(history)
        await uow.outbox.add(events)


def _query_error(name: str) -> FieldError:
    return FieldError(name, "not_in_pipeline", "another stage of this pipeline")


@dataclass(frozen=True, slots=True)
class ReorderStagesCommand:
    principal: Principal
    pipeline_id: UUID
    stage_ids: Sequence[UUID]


class ReorderStages(_Writer):
    """Put the stages in a new order: the request lists every stage id exactly once."""

    async def execute(self, cmd: ReorderStagesCommand) -> Pipeline:
        cmd.principal.require(Action.MANAGE_PIPELINES)
        async with self._uow() as uow:
            p = await self._load(uow, cmd.principal, cmd.pipeline_id)
            version = p.version
            if p.reorder(list(cmd.stage_ids)):
                await self._save(uow, cmd.principal, p, version)
        return p
