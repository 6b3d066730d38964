"""/v1/companies: the inbound adapter for the company use cases."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.pagination import MAX_LIMIT, PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.companies import (
    CreateCompanyCommand,
    DeleteCompanyCommand,
    UpdateCompanyCommand,
)
from crm.entrypoints.api.company_views import (
    companies_page,
    company_contacts_page,
    company_response,
)
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import companies as s
from crm.entrypoints.api.schemas.shared import TagFilter

_ID = "$response.body#/id"
READ = {"description": "The company", "headers": ETAG}
CREATED = {
    "description": "Created; `Location` names it and `ETag` carries its version",
    "headers": {
        **ETAG,
        "Location": {
            "description": "The new company's URL",
            "required": True,
            "schema": {"type": "string"},
        },
    },
    "links": {
        "getCompany": {"operationId": "getCompany", "parameters": {"company_id": _ID}},
        "updateCompany": {
            "operationId": "updateCompany",
            "parameters": {"company_id": _ID, "header.If-Match": "$response.header.ETag"},
        },
        "deleteCompany": {
            "operationId": "deleteCompany",
            "parameters": {"company_id": _ID, "header.If-Match": "$response.header.ETag"},
        },
    },
}
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]
DomainQuery = Annotated[
    str | None, Query(max_length=300, description="Only the company with this domain (any form)")
]


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/companies", tags=["companies"], route_class=LeanRoute)

    @r.post(
        "",
        status_code=201,
        response_model=s.Company,
        operation_id="createCompany",
        summary="Create a company",
        description=c.create_company.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: CREATED},
    )
    async def create_company(body: s.CompanyCreate, request: Request) -> Response:
        cmd = CreateCompanyCommand(principal(request), body.model_dump(exclude_unset=True))
        return company_response(await c.create_company.execute(cmd), 201, location=True)

    @r.get(
        "",
        response_model=s.CompanyPage,
        operation_id="listCompanies",
        summary="List companies",
        description=c.list_companies.__doc__,
        responses=problems(422),
    )
    async def list_companies(
        request: Request,
        limit: Limit = 50,
        cursor: Cursor = None,
        sort: s.CompanySort = "-created_at",
        domain: DomainQuery = None,
        tag: TagFilter = None,
    ) -> Response:
        order = SortOrder(sort)
        after = None if cursor is None else decode_cursor(cursor, order)
        page = PageRequest(limit, after, order)
        tags = tag or ()
        found = await c.list_companies.execute(principal(request), page, domain, tags)
        return companies_page(found, order)

    @r.get(
        "/{company_id}",
        response_model=s.Company,
        operation_id="getCompany",
        summary="Get a company",
        description=c.get_company.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_company(company_id: UUID, request: Request) -> Response:
        return company_response(await c.get_company.execute(principal(request), company_id))

    @r.patch(
        "/{company_id}",
        response_model=s.Company,
        operation_id="updateCompany",
        summary="Update a company",
        description=c.update_company.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def update_company(
        company_id: UUID, body: s.CompanyUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateCompanyCommand(
            principal(request), company_id, changes, parse_if_match(if_match)
        )
        return company_response(await c.update_company.execute(cmd))

    @r.delete(
        "/{company_id}",
        status_code=204,
        operation_id="deleteCompany",
        summary="Delete a company",
        description=c.delete_company.__doc__,
        responses=problems(404, 412, 422),
    )
    async def delete_company(
        company_id: UUID, request: Request, if_match: IfMatch = None
    ) -> Response:
        cmd = DeleteCompanyCommand(principal(request), company_id, parse_if_match(if_match))
        await c.delete_company.execute(cmd)
        return Response(status_code=204)

    @r.get(
        "/{company_id}/contacts",
        response_model=s.CompanyContactPage,
        operation_id="listCompanyContacts",
        summary="List a company's contacts",
        description=c.list_company_contacts.__doc__,
        responses=problems(404, 422),
    )
    async def list_company_contacts(
        company_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        order = SortOrder.OLDEST_FIRST
        page = PageRequest(limit, None if cursor is None else decode_cursor(cursor, order), order)
        found = await c.list_company_contacts.execute(principal(request), company_id, page)
        return company_contacts_page(found)

    return r
