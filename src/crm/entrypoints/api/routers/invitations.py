"""/v1/invitations: asking people to join a workspace by email, and joining."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.model.invitation import Invitation
from crm.domain.use_cases.invitations import InvitationCommand, InviteCommand
from crm.entrypoints.api.deps import person, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import people as s
from crm.entrypoints.api.views import invitation_dict, json_response, page_of, workspace_dict


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/invitations", tags=["invitations"], route_class=LeanRoute)

    def one(invitation: Invitation, status: int = 200) -> Response:
        return json_response(invitation_dict(invitation, c.clock.now()), status)

    @r.post(
        "",
        status_code=201,
        response_model=s.Invitation,
        operation_id="createInvitation",
        summary="Invite someone by email",
        description=c.invite_member.__doc__,
        responses=problems(400, 409, 413, 415, 422),
    )
    async def create_invitation(body: s.InvitationCreate, request: Request) -> Response:
        cmd = InviteCommand(principal(request), body.email, body.role)
        return one(await c.invite_member.execute(cmd), 201)

    @r.get(
        "",
        response_model=s.InvitationPage,
        operation_id="listInvitations",
        summary="List invitations",
        description=c.list_invitations.__doc__,
        responses=problems(422),
    )
    async def list_invitations(
        request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await c.list_invitations.execute(principal(request), page_request(limit, cursor))
        now = c.clock.now()
        return page_of(page, lambda i: invitation_dict(i, now))

    @r.get(
        "/{invitation_id}",
        response_model=s.Invitation,
        operation_id="getInvitation",
        summary="Get an invitation",
        description=c.get_invitation.__doc__,
        responses=problems(404, 422),
    )
    async def get_invitation(invitation_id: UUID, request: Request) -> Response:
        cmd = InvitationCommand(principal(request), invitation_id)
        return one(await c.get_invitation.execute(cmd))

    @r.delete(
        "/{invitation_id}",
        status_code=204,
        operation_id="revokeInvitation",
        summary="Revoke an invitation",
        description=c.revoke_invitation.__doc__,
        responses=problems(404, 409, 422),
    )
    async def revoke_invitation(invitation_id: UUID, request: Request) -> Response:
        await c.revoke_invitation.execute(InvitationCommand(principal(request), invitation_id))
        return Response(status_code=204)

    @r.post(
        "/{invitation_id}/resend",
        response_model=s.Invitation,
        operation_id="resendInvitation",
        summary="Resend an invitation with a fresh link",
        description=c.resend_invitation.__doc__,
        responses=problems(400, 404, 409, 422),
    )
    async def resend_invitation(invitation_id: UUID, request: Request) -> Response:
        cmd = InvitationCommand(principal(request), invitation_id)
        return one(await c.resend_invitation.execute(cmd))

    @r.post(
        "/accept",
        response_model=s.Workspace,
        operation_id="acceptInvitation",
        summary="Accept an invitation",
        description=c.accept_invitation.__doc__,
        responses=problems(400, 404, 409, 413, 415, 422),
    )
    async def accept_invitation(body: s.InvitationAccept, request: Request) -> Response:
        membership = await c.accept_invitation.execute(person(request), body.token)
        return json_response(workspace_dict(membership))

    return r
