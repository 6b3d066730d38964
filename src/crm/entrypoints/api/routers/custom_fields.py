"""/v1/custom-fields: field definitions per object type (admins manage, everyone reads)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.model.custom_fields import CustomField, ObjectType
from crm.domain.use_cases.custom_fields import UpdateCustomFieldCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import custom_fields as s
from crm.entrypoints.api.views import page_of, versioned_response


def field_dict(f: CustomField) -> dict[str, Any]:
    return {
        "id": f.id,
        "object_type": f.object_type.value,
        "key": f.key,
        "label": f.label,
        "field_type": f.field_type.value,
        "options": [{"value": o.value, "label": o.label} for o in f.options],
        "archived": f.archived,
        "archived_at": f.archived_at,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "version": f.version,
    }


def _one(f: CustomField, status: int = 200, location: bool = False) -> Response:
    where = f"/v1/custom-fields/{f.id}" if location else None
    return versioned_response(field_dict(f), f.version, status, where)


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/custom-fields", tags=["custom-fields"], route_class=LeanRoute)

    @r.post(
        "",
        status_code=201,
        response_model=s.CustomField,
        operation_id="createCustomField",
        summary="Define a custom field",
        description=c.create_custom_field.__doc__,
        responses={
            **problems(400, 409, 413, 415, 422),
            201: {"description": "Defined", "headers": ETAG},
        },
    )
    async def create_custom_field(body: s.CustomFieldCreate, request: Request) -> Response:
        raw = body.model_dump(mode="json", exclude_none=True)
        field = await c.create_custom_field.execute(principal(request), raw)
        return _one(field, 201, location=True)

    @r.get(
        "",
        response_model=s.CustomFieldPage,
        operation_id="listCustomFields",
        summary="List custom fields",
        description=c.list_custom_fields.__doc__,
        responses=problems(422),
    )
    async def list_custom_fields(
        request: Request,
        limit: Limit = 50,
        cursor: Cursor = None,
        object_type: Annotated[
            ObjectType | None, Query(description="Only the fields of this object type")
        ] = None,
    ) -> Response:
        page = await c.list_custom_fields.execute(
            principal(request), page_request(limit, cursor), object_type
        )
        return page_of(page, field_dict)

    @r.get(
        "/{field_id}",
        response_model=s.CustomField,
        operation_id="getCustomField",
        summary="Get a custom field",
        description=c.get_custom_field.__doc__,
        responses={**problems(404, 422), 200: {"description": "The field", "headers": ETAG}},
    )
    async def get_custom_field(field_id: UUID, request: Request) -> Response:
        return _one(await c.get_custom_field.execute(principal(request), field_id))

    @r.patch(
        "/{field_id}",
        response_model=s.CustomField,
        operation_id="updateCustomField",
        summary="Update, archive or unarchive a custom field",
        description=c.update_custom_field.__doc__,
        responses={
            **problems(400, 404, 412, 413, 415, 422),
            200: {"description": "The field", "headers": ETAG},
        },
    )
    async def update_custom_field(
        field_id: UUID, body: s.CustomFieldUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(mode="json", exclude_unset=True)
        cmd = UpdateCustomFieldCommand(
            principal(request), field_id, changes, parse_if_match(if_match)
        )
        return _one(await c.update_custom_field.execute(cmd))

    return r
