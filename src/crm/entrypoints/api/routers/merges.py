"""POST /v1/contacts/{contact_id}/merge and /v1/companies/{company_id}/merge."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.use_cases.merge_records import MergeCommand
from crm.entrypoints.api.company_views import company_response
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas.companies import Company
from crm.entrypoints.api.schemas.contacts import Contact
from crm.entrypoints.api.schemas.merges import MergeRequest
from crm.entrypoints.api.serialize import contact_response

# 404 covers both records: a `contact_merged` / `company_merged` problem names `merged_into`,
# and one about the source names `/source_id` in `errors`.
PROBLEMS = problems(400, 404, 409, 412, 413, 415, 422)


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)

    @r.post(
        "/v1/contacts/{contact_id}/merge",
        response_model=Contact,
        tags=["contacts"],
        operation_id="mergeContacts",
        summary="Merge another contact into this one",
        description=c.merge_contacts.__doc__,
        responses={**PROBLEMS, 200: {"description": "The surviving contact", "headers": ETAG}},
    )
    async def merge_contacts(
        contact_id: UUID, body: MergeRequest, request: Request, if_match: IfMatch = None
    ) -> Response:
        cmd = MergeCommand(principal(request), contact_id, body.source_id, parse_if_match(if_match))
        return contact_response(await c.merge_contacts.execute(cmd))

    @r.post(
        "/v1/companies/{company_id}/merge",
        response_model=Company,
        tags=["companies"],
        operation_id="mergeCompanies",
        summary="Merge another company into this one",
        description=c.merge_companies.__doc__,
        responses={**PROBLEMS, 200: {"description": "The surviving company", "headers": ETAG}},
    )
    async def merge_companies(
        company_id: UUID, body: MergeRequest, request: Request, if_match: IfMatch = None
    ) -> Response:
        cmd = MergeCommand(principal(request), company_id, body.source_id, parse_if_match(if_match))
        return company_response(await c.merge_companies.execute(cmd))

    return r
