"""POST /v1/{contacts,companies,deals}/search and /export: filter groups in the body.

Plain LeanRoutes: the export returns a StreamingResponse, which is a Response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.responses import StreamingResponse

from crm.bootstrap import Container
from crm.domain.model import search_fields as sf
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.domain.pagination import MAX_LIMIT
from crm.domain.use_cases.search import Found, SearchCommand
from crm.entrypoints.api.company_views import company_dict
from crm.entrypoints.api.csv_export import csv_lines
from crm.entrypoints.api.deal_views import deal_dict
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import companies as co
from crm.entrypoints.api.schemas import contacts as ct
from crm.entrypoints.api.schemas import deals as de
from crm.entrypoints.api.schemas import search as s
from crm.entrypoints.api.serialize import contact_dict
from crm.entrypoints.api.views import json_response

Q = Annotated[str | None, Query(min_length=1, max_length=sf.MAX_Q, description=s.Q_TEXT)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=1024)]
# The body is optional: none at all searches like `{}` (every record, default sort).
_CONTACTS, _COMPANIES, _DEALS = s.ContactSearch(), s.CompanySearch(), s.DealSearch()
CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The matching records as CSV (RFC 4180, UTF-8), streamed",
        "content": {"text/csv": {"schema": {"$ref": "#/components/schemas/CsvFile"}}},
        "headers": {
            "Content-Disposition": {
                "description": "`attachment; filename=<objects>.csv`",
                "schema": {"type": "string"},
            }
        },
    }
}


def _page(found: Found[Any], item: Callable[[Any], dict[str, Any]]) -> Response:
    return json_response({"data": [item(i) for i in found.items], "next_cursor": found.next_cursor})


def _command(
    request: Request, body: s.SearchBody | None, q: str | None, **page: Any
) -> SearchCommand:
    # No body searches with the defaults, like `{}`.
    filters = {} if body is None else body.model_dump()
    return SearchCommand(principal(request), filters, q, **page)


def _csv(name: str, lines: Any) -> Response:
    disposition = {"Content-Disposition": f"attachment; filename={name}.csv"}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=disposition)


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)
    contacts, companies, deals = c.search.contacts, c.search.companies, c.search.deals
    found = problems(400, 413, 415, 422)

    @r.post(
        "/v1/contacts/search",
        tags=["contacts"],
        response_model=ct.ContactPage,
        operation_id="searchContacts",
        summary="Search contacts",
        description=s.describe(contacts.__doc__, "contact"),
        responses=found,
    )
    async def search_contacts(
        request: Request,
        body: s.ContactSearch = _CONTACTS,
        q: Q = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response:
        cmd = _command(request, body, q, limit=limit, cursor=cursor)
        return _page(await contacts.execute(cmd), contact_dict)

    @r.post(
        "/v1/companies/search",
        tags=["companies"],
        response_model=co.CompanyPage,
        operation_id="searchCompanies",
        summary="Search companies",
        description=s.describe(companies.__doc__, "company"),
        responses=found,
    )
    async def search_companies(
        request: Request,
        body: s.CompanySearch = _COMPANIES,
        q: Q = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response:
        cmd = _command(request, body, q, limit=limit, cursor=cursor)
        return _page(await companies.execute(cmd), company_dict)

    @r.post(
        "/v1/deals/search",
        tags=["deals"],
        response_model=de.DealPage,
        operation_id="searchDeals",
        summary="Search deals",
        description=s.describe(deals.__doc__, "deal"),
        responses=found,
    )
    async def search_deals(
        request: Request,
        body: s.DealSearch = _DEALS,
        q: Q = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response:
        cmd = _command(request, body, q, limit=limit, cursor=cursor)
        return _page(await deals.execute(cmd), deal_dict)

    @r.post(
        "/v1/contacts/export",
        tags=["contacts"],
        response_class=StreamingResponse,
        operation_id="exportContacts",
        summary="Export contacts as CSV",
        description=s.describe_export("contact"),
        responses={**found, **CSV},
    )
    async def export_contacts(
        request: Request, body: s.ContactSearch = _CONTACTS, q: Q = None
    ) -> Response:
        export = await contacts.export(_command(request, body, q))
        return _csv("contacts", csv_lines(Contact, export))

    @r.post(
        "/v1/companies/export",
        tags=["companies"],
        response_class=StreamingResponse,
        operation_id="exportCompanies",
        summary="Export companies as CSV",
        description=s.describe_export("company"),
        responses={**found, **CSV},
    )
    async def export_companies(
        request: Request, body: s.CompanySearch = _COMPANIES, q: Q = None
    ) -> Response:
        export = await companies.export(_command(request, body, q))
        return _csv("companies", csv_lines(Company, export))

    @r.post(
        "/v1/deals/export",
        tags=["deals"],
        response_class=StreamingResponse,
        operation_id="exportDeals",
        summary="Export deals as CSV",
        description=s.describe_export("deal"),
        responses={**found, **CSV},
    )
    async def export_deals(request: Request, body: s.DealSearch = _DEALS, q: Q = None) -> Response:
        export = await deals.export(_command(request, body, q))
        return _csv("deals", csv_lines(Deal, export))

    return r
