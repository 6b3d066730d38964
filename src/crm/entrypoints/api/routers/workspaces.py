"""/v1/workspaces and /v1/members: where people work and who works there."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.model.permissions import Role
from crm.domain.model.workspace import Membership
from crm.domain.pagination import MAX_LIMIT, PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.create_workspace import CreateWorkspaceCommand
from crm.domain.use_cases.members import ChangeRoleCommand, RemoveMemberCommand
from crm.entrypoints.api.deps import caller, person, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import people as s
from crm.entrypoints.api.views import json_response, member_dict, page_of, workspace_dict

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]


def page_request(limit: int, cursor: str | None) -> PageRequest:
    order = SortOrder.OLDEST_FIRST
    return PageRequest(limit, None if cursor is None else decode_cursor(cursor, order), order)


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)

    @r.post(
        "/v1/workspaces",
        status_code=201,
        response_model=s.Workspace,
        tags=["workspaces"],
        operation_id="createWorkspace",
        summary="Create a workspace",
        description=c.create_workspace.__doc__,
        responses=problems(400, 409, 413, 415, 422),
    )
    async def create_workspace(body: s.WorkspaceCreate, request: Request) -> Response:
        me = person(request)
        cmd = CreateWorkspaceCommand(body.name, key_name=None, owner_id=me.user_id)
        created = await c.create_workspace.execute(cmd)
        membership = Membership(created.workspace, Role.OWNER, created.workspace.created_at)
        location = {"Location": f"/v1/workspaces/{created.workspace.id}"}
        return json_response(workspace_dict(membership), 201, location)

    @r.get(
        "/v1/workspaces",
        response_model=s.WorkspacePage,
        tags=["workspaces"],
        operation_id="listWorkspaces",
        summary="List my workspaces",
        description=c.list_workspaces.__doc__,
        responses=problems(422),
    )
    async def list_workspaces(
        request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        me = person(request)
        page = await c.list_workspaces.execute(me.user_id, page_request(limit, cursor))
        return page_of(page, workspace_dict)

    @r.get(
        "/v1/workspaces/{workspace_id}",
        response_model=s.Workspace,
        tags=["workspaces"],
        operation_id="getWorkspace",
        summary="Get a workspace",
        description=c.get_workspace.__doc__,
        responses=problems(404, 422),
    )
    async def get_workspace(workspace_id: UUID, request: Request) -> Response:
        membership = await c.get_workspace.execute(caller(request), workspace_id)
        return json_response(workspace_dict(membership))

    @r.get(
        "/v1/members",
        response_model=s.MemberPage,
        tags=["members"],
        operation_id="listMembers",
        summary="List members",
        description=c.list_members.__doc__,
        responses=problems(422),
    )
    async def list_members(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Response:
        page = await c.list_members.execute(principal(request), page_request(limit, cursor))
        return page_of(page, member_dict)

    @r.get(
        "/v1/members/{user_id}",
        response_model=s.Member,
        tags=["members"],
        operation_id="getMember",
        summary="Get a member",
        description=c.get_member.__doc__,
        responses=problems(404, 422),
    )
    async def get_member(user_id: UUID, request: Request) -> Response:
        return json_response(member_dict(await c.get_member.execute(principal(request), user_id)))

    @r.patch(
        "/v1/members/{user_id}",
        response_model=s.Member,
        tags=["members"],
        operation_id="updateMember",
        summary="Change a member's role",
        description=c.change_member_role.__doc__,
        responses=problems(400, 404, 409, 413, 415, 422),
    )
    async def update_member(user_id: UUID, body: s.MemberUpdate, request: Request) -> Response:
        p = principal(request)
        await c.change_member_role.execute(ChangeRoleCommand(p, user_id, body.role))
        return json_response(member_dict(await c.get_member.execute(p, user_id)))

    @r.delete(
        "/v1/members/{user_id}",
        status_code=204,
        tags=["members"],
        operation_id="deleteMember",
        summary="Remove a member (or leave)",
        description=c.remove_member.__doc__,
        responses=problems(404, 409, 422),
    )
    async def delete_member(user_id: UUID, request: Request) -> Response:
        await c.remove_member.execute(RemoveMemberCommand(principal(request), user_id))
        return Response(status_code=204)

    return r
