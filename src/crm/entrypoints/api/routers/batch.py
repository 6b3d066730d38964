"""POST /v1/{contacts,companies,deals}/batch: many records per request, a result per item."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.use_cases.batch import BatchCommand, BatchOperation
from crm.entrypoints.api.batch_views import batch_response
from crm.entrypoints.api.company_views import company_dict
from crm.entrypoints.api.deal_views import deal_dict
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import batch as s
from crm.entrypoints.api.serialize import contact_dict

_PROBLEMS = problems(400, 413, 415, 422)


def _command(request: Request, body: s.ContactBatch | s.CompanyBatch | s.DealBatch) -> BatchCommand:
    op = BatchOperation(body.operation)
    return BatchCommand(principal(request), op, body.items, body.match_on, body.on_match)


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)

    @r.post(
        "/v1/contacts/batch",
        response_model=s.ContactBatchResponse,
        operation_id="batchContacts",
        tags=["contacts"],
        summary="Create, update or upsert contacts in a batch",
        description=c.batch_contacts.__doc__,
        responses=_PROBLEMS,
    )
    async def batch_contacts(body: s.ContactBatch, request: Request) -> Response:
        results = await c.batch_contacts.execute(_command(request, body))
        return batch_response(results, contact_dict)

    @r.post(
        "/v1/companies/batch",
        response_model=s.CompanyBatchResponse,
        operation_id="batchCompanies",
        tags=["companies"],
        summary="Create, update or upsert companies in a batch",
        description=c.batch_companies.__doc__,
        responses=_PROBLEMS,
    )
    async def batch_companies(body: s.CompanyBatch, request: Request) -> Response:
        results = await c.batch_companies.execute(_command(request, body))
        return batch_response(results, company_dict)

    @r.post(
        "/v1/deals/batch",
        response_model=s.DealBatchResponse,
        operation_id="batchDeals",
        tags=["deals"],
        summary="Create, update or upsert deals in a batch",
        description=c.batch_deals.__doc__,
        responses=_PROBLEMS,
    )
    async def batch_deals(body: s.DealBatch, request: Request) -> Response:
        results = await c.batch_deals.execute(_command(request, body))
        return batch_response(results, deal_dict)

    return r
