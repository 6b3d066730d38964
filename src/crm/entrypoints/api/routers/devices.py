"""/v1/devices and /v1/me/notification-settings: a signed-in person's push notifications."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.model.push import Device, NotificationSettings
from crm.domain.pagination import MAX_LIMIT, PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.devices import RegisterDeviceCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, person, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import devices as s
from crm.entrypoints.api.views import json_response, page_of, versioned_response

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]
SETTINGS = "/v1/me/notification-settings"
READ = {"description": "Your notification settings", "headers": ETAG}
CREATED = {
    "description": "Registered; `Location` names the device",
    "headers": {
        "Location": {
            "description": "The device's URL",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}
UPDATED = {"description": "You had registered this token already: updated", "model": s.Device}


def device_dict(d: Device) -> dict[str, Any]:
    return {
        "id": d.id,
        "token": d.token,
        "platform": d.platform.value,
        "app_version": d.app_version,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


def settings_response(settings: NotificationSettings) -> Response:
    body = {
        "muted": sorted(settings.muted),
        "reminder_lead_minutes": settings.reminder_lead_minutes,
        "version": settings.version,
        "updated_at": settings.updated_at,
    }
    return versioned_response(body, settings.version)


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)
    uc = c.devices

    @r.post(
        "/v1/devices",
        status_code=201,
        response_model=s.Device,
        tags=["devices"],
        operation_id="registerDevice",
        summary="Register a device for push notifications",
        description=uc.register.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: CREATED, 200: UPDATED},
    )
    async def register_device(body: s.DeviceRegistration, request: Request) -> Response:
        cmd = RegisterDeviceCommand(person(request), body.token, body.platform, body.app_version)
        done = await uc.register.execute(cmd)
        if not done.created:
            return json_response(device_dict(done.device))
        location = {"Location": f"/v1/devices/{done.device.id}"}
        return json_response(device_dict(done.device), 201, location)

    @r.get(
        "/v1/devices",
        response_model=s.DevicePage,
        tags=["devices"],
        operation_id="listDevices",
        summary="List my devices",
        description=uc.list_mine.__doc__,
        responses=problems(422),
    )
    async def list_devices(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Response:
        order = SortOrder.OLDEST_FIRST
        after = None if cursor is None else decode_cursor(cursor, order)
        page = await uc.list_mine.execute(person(request), PageRequest(limit, after, order))
        return page_of(page, device_dict)

    @r.get(
        "/v1/devices/{device_id}",
        response_model=s.Device,
        tags=["devices"],
        operation_id="getDevice",
        summary="Get one of my devices",
        description=uc.get.__doc__,
        responses=problems(404, 422),
    )
    async def get_device(device_id: UUID, request: Request) -> Response:
        return json_response(device_dict(await uc.get.execute(person(request), device_id)))

    @r.delete(
        "/v1/devices/{device_id}",
        status_code=204,
        tags=["devices"],
        operation_id="deleteDevice",
        summary="Forget one of my devices",
        description=uc.delete.__doc__,
        responses=problems(404, 422),
    )
    async def delete_device(device_id: UUID, request: Request) -> Response:
        await uc.delete.execute(person(request), device_id)
        return Response(status_code=204)

    @r.get(
        SETTINGS,
        response_model=s.NotificationSettings,
        tags=["notifications"],
        operation_id="getNotificationSettings",
        summary="Get my notification settings",
        description=uc.get_settings.__doc__,
        responses={**problems(), 200: READ},
    )
    async def get_settings(request: Request) -> Response:
        return settings_response(await uc.get_settings.execute(person(request)))

    @r.patch(
        SETTINGS,
        response_model=s.NotificationSettings,
        tags=["notifications"],
        operation_id="updateNotificationSettings",
        summary="Change my notification settings",
        description=uc.update_settings.__doc__,
        responses={**problems(400, 412, 413, 415, 422), 200: READ},
    )
    async def update_settings(
        body: s.NotificationSettingsUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        done = await uc.update_settings.execute(person(request), changes, parse_if_match(if_match))
        return settings_response(done)

    return r
