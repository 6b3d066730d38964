"""/v1/tags: the workspace's tag catalogue (admins manage, everyone reads)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.model.tags import Tag
from crm.domain.use_cases.custom_fields import UpdateTagCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import custom_fields as s
from crm.entrypoints.api.views import page_of, versioned_response


def tag_dict(t: Tag) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "color": t.color,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "version": t.version,
    }


def _one(t: Tag, status: int = 200, location: bool = False) -> Response:
    where = f"/v1/tags/{t.id}" if location else None
    return versioned_response(tag_dict(t), t.version, status, where)


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/tags", tags=["tags"], route_class=LeanRoute)

    @r.post(
        "",
        status_code=201,
        response_model=s.Tag,
        operation_id="createTag",
        summary="Add a tag to the catalogue",
        description=c.create_tag.__doc__,
        responses={
            **problems(400, 409, 413, 415, 422),
            201: {"description": "Added", "headers": ETAG},
        },
    )
    async def create_tag(body: s.TagCreate, request: Request) -> Response:
        raw = body.model_dump(exclude_unset=True)
        return _one(await c.create_tag.execute(principal(request), raw), 201, location=True)

    @r.get(
        "",
        response_model=s.TagPage,
        operation_id="listTags",
        summary="List tags",
        description=c.list_tags.__doc__,
        responses=problems(422),
    )
    async def list_tags(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Response:
        page = await c.list_tags.execute(principal(request), page_request(limit, cursor))
        return page_of(page, tag_dict)

    @r.get(
        "/{tag_id}",
        response_model=s.Tag,
        operation_id="getTag",
        summary="Get a tag",
        description=c.get_tag.__doc__,
        responses={**problems(404, 422), 200: {"description": "The tag", "headers": ETAG}},
    )
    async def get_tag(tag_id: UUID, request: Request) -> Response:
        return _one(await c.get_tag.execute(principal(request), tag_id))

    @r.patch(
        "/{tag_id}",
        response_model=s.Tag,
        operation_id="updateTag",
        summary="Rename or recolor a tag",
        description=c.update_tag.__doc__,
        responses={
            **problems(400, 404, 409, 412, 413, 415, 422),
            200: {"description": "The tag", "headers": ETAG},
        },
    )
    async def update_tag(
        tag_id: UUID, body: s.TagUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateTagCommand(principal(request), tag_id, changes, parse_if_match(if_match))
        return _one(await c.update_tag.execute(cmd))

    @r.delete(
        "/{tag_id}",
        status_code=204,
        operation_id="deleteTag",
        summary="Delete a tag",
        description=c.delete_tag.__doc__,
        responses=problems(404, 412, 422),
    )
    async def delete_tag(tag_id: UUID, request: Request, if_match: IfMatch = None) -> Response:
        await c.delete_tag.execute(principal(request), tag_id, parse_if_match(if_match))
        return Response(status_code=204)

    return r
