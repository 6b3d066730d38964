"""/v1/pipelines: pipelines and their stages (read by everyone, changed by admins)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.use_cases import pipelines as uc
from crm.entrypoints.api.deal_views import (
    pipeline_dict,
    pipeline_response,
    stage_dict,
    summary_dict,
)
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import pipelines as s
from crm.entrypoints.api.views import json_response, page_of

MoveDealsTo = Annotated[
    UUID | None,
    Query(
        description="Another stage of the pipeline to move the stage's deals to (recorded "
        "in their stage history); required when the stage holds deals"
    ),
]
READ = {"description": "The pipeline with its stages in order", "headers": ETAG}
_ID = "$response.body#/id"
CREATED = {
    "description": "Created; `Location` names it and `ETag` carries its version",
    "headers": ETAG,
    "links": {
        "getPipeline": {"operationId": "getPipeline", "parameters": {"pipeline_id": _ID}},
        "getPipelineSummary": {
            "operationId": "getPipelineSummary",
            "parameters": {"pipeline_id": _ID},
        },
        "deletePipeline": {"operationId": "deletePipeline", "parameters": {"pipeline_id": _ID}},
    },
}


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/pipelines", tags=["pipelines"], route_class=LeanRoute)
    u = c.sales

    @r.post(
        "",
        status_code=201,
        response_model=s.Pipeline,
        operation_id="createPipeline",
        summary="Create a pipeline",
        description=u.create_pipeline.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: CREATED},
    )
    async def create_pipeline(body: s.PipelineCreate, request: Request) -> Response:
        stages = [st.model_dump() for st in body.stages]
        cmd = uc.CreatePipelineCommand(principal(request), body.name, stages, body.is_default)
        return pipeline_response(await u.create_pipeline.execute(cmd), 201, location=True)

    @r.get(
        "",
        response_model=s.PipelinePage,
        operation_id="listPipelines",
        summary="List pipelines",
        description=u.list_pipelines.__doc__,
        responses=problems(422),
    )
    async def list_pipelines(
        request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await u.list_pipelines.execute(principal(request), page_request(limit, cursor))
        return page_of(page, pipeline_dict)

    @r.get(
        "/{pipeline_id}",
        response_model=s.Pipeline,
        operation_id="getPipeline",
        summary="Get a pipeline",
        description=u.get_pipeline.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_pipeline(pipeline_id: UUID, request: Request) -> Response:
        return pipeline_response(await u.get_pipeline.execute(principal(request), pipeline_id))

    @r.patch(
        "/{pipeline_id}",
        response_model=s.Pipeline,
        operation_id="updatePipeline",
        summary="Rename a pipeline or make it the default",
        description=u.update_pipeline.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def update_pipeline(
        pipeline_id: UUID, body: s.PipelineUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = uc.UpdatePipelineCommand(
            principal(request), pipeline_id, changes, parse_if_match(if_match)
        )
        return pipeline_response(await u.update_pipeline.execute(cmd))

    @r.delete(
        "/{pipeline_id}",
        status_code=204,
        operation_id="deletePipeline",
        summary="Delete a pipeline",
        description=u.delete_pipeline.__doc__,
        responses=problems(404, 409, 412, 422),
    )
    async def delete_pipeline(
        pipeline_id: UUID, request: Request, if_match: IfMatch = None
    ) -> Response:
        cmd = uc.DeletePipelineCommand(principal(request), pipeline_id, parse_if_match(if_match))
        await u.delete_pipeline.execute(cmd)
        return Response(status_code=204)

    @r.get(
        "/{pipeline_id}/summary",
        response_model=s.PipelineSummary,
        operation_id="getPipelineSummary",
        summary="Count and sum a pipeline's deals per stage",
        description=u.summarize_pipeline.__doc__,
        responses=problems(404, 422),
    )
    async def get_pipeline_summary(pipeline_id: UUID, request: Request) -> Response:
        stages = await u.summarize_pipeline.execute(principal(request), pipeline_id)
        return json_response(summary_dict(pipeline_id, stages))

    _stages(r, c)
    return r


def _stages(r: APIRouter, c: Container) -> None:
    u = c.sales

    @r.post(
        "/{pipeline_id}/stages",
        status_code=201,
        response_model=s.Stage,
        operation_id="createStage",
        summary="Add a stage",
        description=u.add_stage.__doc__,
        responses=problems(400, 404, 409, 413, 415, 422),
    )
    async def create_stage(pipeline_id: UUID, body: s.StageCreate, request: Request) -> Response:
        spec = body.model_dump(exclude={"position"})
        cmd = uc.AddStageCommand(principal(request), pipeline_id, spec, body.position)
        _, stage = await u.add_stage.execute(cmd)
        return json_response(stage_dict(stage), 201)

    @r.put(
        "/{pipeline_id}/stages/order",
        response_model=s.Pipeline,
        operation_id="reorderStages",
        summary="Reorder the stages",
        description=u.reorder_stages.__doc__,
        responses={**problems(400, 404, 413, 415, 422), 200: READ},
    )
    async def reorder_stages(pipeline_id: UUID, body: s.StageOrder, request: Request) -> Response:
        cmd = uc.ReorderStagesCommand(principal(request), pipeline_id, body.stage_ids)
        return pipeline_response(await u.reorder_stages.execute(cmd))

    @r.patch(
        "/{pipeline_id}/stages/{stage_id}",
        response_model=s.Stage,
        operation_id="updateStage",
        summary="Update a stage",
        description=u.update_stage.__doc__,
        responses=problems(400, 404, 409, 413, 415, 422),
    )
    async def update_stage(
        pipeline_id: UUID, stage_id: UUID, body: s.StageUpdate, request: Request
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = uc.UpdateStageCommand(principal(request), pipeline_id, stage_id, changes)
        _, stage = await u.update_stage.execute(cmd)
        return json_response(stage_dict(stage))

    @r.delete(
        "/{pipeline_id}/stages/{stage_id}",
        status_code=204,
        operation_id="deleteStage",
        summary="Delete a stage",
        description=u.delete_stage.__doc__,
        responses=problems(404, 409, 422),
    )
    async def delete_stage(
        pipeline_id: UUID, stage_id: UUID, request: Request, move_deals_to: MoveDealsTo = None
    ) -> Response:
        cmd = uc.DeleteStageCommand(principal(request), pipeline_id, stage_id, move_deals_to)
        await u.delete_stage.execute(cmd)
        return Response(status_code=204)
