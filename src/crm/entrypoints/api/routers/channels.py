"""/v1/channels/whatsapp: the workspace's connected WhatsApp Business numbers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.model.channels import WhatsAppChannel
from crm.domain.use_cases.channels import UpdateWhatsAppChannelCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import channels as s
from crm.entrypoints.api.views import page_of, versioned_response

BASE = "/v1/channels/whatsapp"
ONE = "/{channel_id}"


def channel_dict(c: WhatsAppChannel) -> dict[str, Any]:
    """Everything but the token, of which only the last four characters."""
    return {
        "id": c.id,
        "phone_number_id": c.phone_number_id,
        "display_phone_number": c.display_phone_number,
        "name": c.name,
        "access_token_last4": c.access_token_last4,
        "create_contacts": c.create_contacts,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def _one(c: WhatsAppChannel, status: int = 200) -> Response:
    location = f"{BASE}/{c.id}" if status == 201 else None
    return versioned_response(channel_dict(c), c.version, status, location)


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix=BASE, tags=["channels"], route_class=LeanRoute)
    channels = c.channels
    versioned = {"description": "The channel", "headers": ETAG}

    @r.post(
        "",
        status_code=201,
        response_model=s.WhatsAppChannel,
        operation_id="connectWhatsAppChannel",
        summary="Connect a WhatsApp Business number",
        description=channels.connect.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: versioned},
    )
    async def connect_whatsapp_channel(body: s.WhatsAppChannelCreate, request: Request) -> Response:
        made = await channels.connect.execute(principal(request), body.model_dump())
        return _one(made, 201)

    @r.get(
        "",
        response_model=s.WhatsAppChannelPage,
        operation_id="listWhatsAppChannels",
        summary="List connected WhatsApp numbers",
        description=channels.list.__doc__,
        responses=problems(422),
    )
    async def list_whatsapp_channels(
        request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await channels.list.execute(principal(request), page_request(limit, cursor))
        return page_of(page, channel_dict)

    @r.get(
        ONE,
        response_model=s.WhatsAppChannel,
        operation_id="getWhatsAppChannel",
        summary="Get a connected WhatsApp number",
        description=channels.get.__doc__,
        responses={**problems(404, 422), 200: versioned},
    )
    async def get_whatsapp_channel(channel_id: UUID, request: Request) -> Response:
        return _one(await channels.get.execute(principal(request), channel_id))

    @r.patch(
        ONE,
        response_model=s.WhatsAppChannel,
        operation_id="updateWhatsAppChannel",
        summary="Change a WhatsApp number's display number, name or access token",
        description=channels.update.__doc__,
        responses={**problems(400, 404, 412, 413, 415, 422), 200: versioned},
    )
    async def update_whatsapp_channel(
        channel_id: UUID, body: s.WhatsAppChannelUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateWhatsAppChannelCommand(
            principal(request), channel_id, changes, parse_if_match(if_match)
        )
        return _one(await channels.update.execute(cmd))

    @r.delete(
        ONE,
        status_code=204,
        operation_id="disconnectWhatsAppChannel",
        summary="Disconnect a WhatsApp number",
        description=channels.disconnect.__doc__,
        responses=problems(400, 404, 412, 422),
    )
    async def disconnect_whatsapp_channel(
        channel_id: UUID, request: Request, if_match: IfMatch = None
    ) -> Response:
        await channels.disconnect.execute(principal(request), channel_id, parse_if_match(if_match))
        return Response(status_code=204)

    return r
