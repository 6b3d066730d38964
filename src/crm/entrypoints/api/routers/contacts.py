"""/v1/contacts: the inbound adapter for the contact use cases."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.pagination import MAX_LIMIT, PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.create_contact import CreateContactCommand
from crm.domain.use_cases.delete_contact import DeleteContactCommand
from crm.domain.use_cases.update_contact import UpdateContactCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import contacts as s
from crm.entrypoints.api.serialize import contact_response, page_response

_ID = "$response.body#/id"
READ = {"description": "The contact", "headers": ETAG}
# OpenAPI links: what to call next with the new contact (SDK docs, stateful fuzzing).
CREATED = {
    "description": "Created; `Location` names it and `ETag` carries its version",
    "headers": {
        **ETAG,
        "Location": {
            "description": "The new contact's URL",
            "required": True,
            "schema": {"type": "string"},
        },
    },
    "links": {
        "getContact": {"operationId": "getContact", "parameters": {"contact_id": _ID}},
        "updateContact": {
            "operationId": "updateContact",
            "parameters": {"contact_id": _ID, "header.If-Match": "$response.header.ETag"},
        },
        "deleteContact": {
            "operationId": "deleteContact",
            "parameters": {"contact_id": _ID, "header.If-Match": "$response.header.ETag"},
        },
    },
}


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/contacts", tags=["contacts"], route_class=LeanRoute)

    @r.post(
        "",
        status_code=201,
        response_model=s.Contact,
        operation_id="createContact",
        summary="Create a contact",
        description=c.create_contact.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: CREATED},
    )
    async def create_contact(body: s.ContactCreate, request: Request) -> Response:
        cmd = CreateContactCommand(principal(request), body.model_dump())
        return contact_response(await c.create_contact.execute(cmd), 201, location=True)

    @r.get(
        "",
        response_model=s.ContactPage,
        operation_id="listContacts",
        summary="List contacts",
        description=c.list_contacts.__doc__,
        responses=problems(422),
    )
    async def list_contacts(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        sort: s.ContactSort = "-created_at",
        tag: s.TagFilter = None,
    ) -> Response:
        order = SortOrder(sort)
        after = None if cursor is None else decode_cursor(cursor, order)
        page = await c.list_contacts.execute(
            principal(request), PageRequest(limit, after, order), tag or ()
        )
        return page_response(page, order)

    @r.get(
        "/{contact_id}",
        response_model=s.Contact,
        operation_id="getContact",
        summary="Get a contact",
        description=c.get_contact.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_contact(contact_id: UUID, request: Request) -> Response:
        return contact_response(await c.get_contact.execute(principal(request), contact_id))

    @r.patch(
        "/{contact_id}",
        response_model=s.Contact,
        operation_id="updateContact",
        summary="Update a contact",
        description=c.update_contact.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def update_contact(
        contact_id: UUID, body: s.ContactUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateContactCommand(
            principal(request), contact_id, changes, parse_if_match(if_match)
        )
        return contact_response(await c.update_contact.execute(cmd))

    @r.delete(
        "/{contact_id}",
        status_code=204,
        operation_id="deleteContact",
        summary="Delete a contact",
        description=c.delete_contact.__doc__,
        responses=problems(404, 412, 422),
    )
    async def delete_contact(
        contact_id: UUID, request: Request, if_match: IfMatch = None
    ) -> Response:
        cmd = DeleteContactCommand(principal(request), contact_id, parse_if_match(if_match))
        await c.delete_contact.execute(cmd)
        return Response(status_code=204)

    return r
