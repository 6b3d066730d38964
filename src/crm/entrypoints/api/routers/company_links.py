"""/v1/contacts/{contact_id}/companies: which companies a contact works at."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.pagination import MAX_LIMIT, PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.company_links import LinkCompanyCommand, UnlinkCompanyCommand
from crm.entrypoints.api.company_views import contact_companies_page
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import companies as s
from crm.entrypoints.api.views import json_response

_DEFAULT = s.CompanyLinkOptions()
LINKED = {"description": "The link as it is now (unchanged when it already was so)"}
CREATED = {
    "model": s.CompanyLink,
    "description": "Linked: the contact was not at the company before",
}


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/contacts", tags=["contacts"], route_class=LeanRoute)

    @r.put(
        "/{contact_id}/companies/{company_id}",
        response_model=s.CompanyLink,
        operation_id="linkContactToCompany",
        summary="Link a contact to a company",
        description=c.link_company.__doc__,
        responses={**problems(400, 404, 413, 415, 422), 200: LINKED, 201: CREATED},
    )
    async def link_contact_to_company(
        contact_id: UUID,
        company_id: UUID,
        request: Request,
        # Optional: a PUT with no body links with the default options.
        body: s.CompanyLinkOptions = _DEFAULT,
    ) -> Response:
        primary = None if body is None else body.is_primary
        cmd = LinkCompanyCommand(principal(request), contact_id, company_id, primary)
        plan = await c.link_company.execute(cmd)
        link = plan.link
        return json_response(
            {
                "contact_id": link.contact_id,
                "company_id": link.company_id,
                "is_primary": link.is_primary,
                "linked_at": link.created_at,
            },
            201 if plan.created else 200,
        )

    @r.delete(
        "/{contact_id}/companies/{company_id}",
        status_code=204,
        operation_id="unlinkContactFromCompany",
        summary="Unlink a contact from a company",
        description=c.unlink_company.__doc__,
        responses=problems(404, 422),
    )
    async def unlink_contact_from_company(
        contact_id: UUID, company_id: UUID, request: Request
    ) -> Response:
        cmd = UnlinkCompanyCommand(principal(request), contact_id, company_id)
        await c.unlink_company.execute(cmd)
        return Response(status_code=204)

    @r.get(
        "/{contact_id}/companies",
        response_model=s.ContactCompanyPage,
        operation_id="listContactCompanies",
        summary="List a contact's companies",
        description=c.list_contact_companies.__doc__,
        responses=problems(404, 422),
    )
    async def list_contact_companies(
        contact_id: UUID,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> Response:
        order = SortOrder.OLDEST_FIRST
        page = PageRequest(limit, None if cursor is None else decode_cursor(cursor, order), order)
        found = await c.list_contact_companies.execute(principal(request), contact_id, page)
        return contact_companies_page(found)

    return r
