"""/v1/deals: deals, their moves and stage history, and their links to contacts and companies."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.model.deal import LinkedObject
from crm.domain.model.pipeline import StageKind
from crm.domain.pagination import MAX_LIMIT, PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases import deals as uc
from crm.domain.use_cases.deal_links import DealLink, LinkCommand
from crm.entrypoints.api.company_views import company_dict
from crm.entrypoints.api.deal_views import (
    change_dict,
    deal_dict,
    deal_response,
    linked_page,
)
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import deals as s
from crm.entrypoints.api.schemas.contacts import TagFilter
from crm.entrypoints.api.serialize import contact_dict
from crm.entrypoints.api.views import json_response, page_of
from crm.ports.deals import DealFilter

READ = {"description": "The deal", "headers": ETAG}
_ID, _ETAG = "$response.body#/id", "$response.header.ETag"
# OpenAPI links: what to call next with the new deal (SDK docs, stateful fuzzing).
CREATED_DEAL = {
    "description": "Created; `Location` names it and `ETag` carries its version",
    "headers": ETAG,
    "links": {
        "getDeal": {"operationId": "getDeal", "parameters": {"deal_id": _ID}},
        "listDealStageHistory": {
            "operationId": "listDealStageHistory",
            "parameters": {"deal_id": _ID},
        },
        "updateDeal": {
            "operationId": "updateDeal",
            "parameters": {"deal_id": _ID, "header.If-Match": _ETAG},
        },
        "deleteDeal": {
            "operationId": "deleteDeal",
            "parameters": {"deal_id": _ID, "header.If-Match": _ETAG},
        },
    },
}
LINKED = {"description": "Already linked: the link as it was"}
CREATED = {"description": "Linked: they were not linked before"}


def build(c: Container) -> APIRouter:
    r = APIRouter(tags=["deals"], route_class=LeanRoute)
    u = c.sales

    @r.post(
        "/v1/deals",
        status_code=201,
        response_model=s.Deal,
        operation_id="createDeal",
        summary="Create a deal",
        description=u.create_deal.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: CREATED_DEAL},
    )
    async def create_deal(body: s.DealCreate, request: Request) -> Response:
        fields = body.model_dump(exclude={"pipeline_id", "stage_id"})
        cmd = uc.CreateDealCommand(principal(request), fields, body.pipeline_id, body.stage_id)
        return deal_response(await u.create_deal.execute(cmd), 201, location=True)

    @r.get(
        "/v1/deals",
        response_model=s.DealPage,
        operation_id="listDeals",
        summary="List deals",
        description=u.list_deals.__doc__,
        responses=problems(422),
    )
    async def list_deals(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        sort: s.DealSort = "-created_at",
        pipeline_id: UUID | None = None,
        stage_id: UUID | None = None,
        status: StageKind | None = None,
        tag: TagFilter = None,
    ) -> Response:
        order = SortOrder(sort)
        after = None if cursor is None else decode_cursor(cursor, order)
        where = DealFilter(pipeline_id, stage_id, status, tuple(tag or ()))
        page = await u.list_deals.execute(
            principal(request), PageRequest(limit, after, order), where
        )
        return page_of(page, deal_dict, order)

    @r.get(
        "/v1/deals/{deal_id}",
        response_model=s.Deal,
        operation_id="getDeal",
        summary="Get a deal",
        description=u.get_deal.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_deal(deal_id: UUID, request: Request) -> Response:
        return deal_response(await u.get_deal.execute(principal(request), deal_id))

    @r.patch(
        "/v1/deals/{deal_id}",
        response_model=s.Deal,
        operation_id="updateDeal",
        summary="Update a deal",
        description=u.update_deal.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def update_deal(
        deal_id: UUID, body: s.DealUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = uc.UpdateDealCommand(principal(request), deal_id, changes, parse_if_match(if_match))
        return deal_response(await u.update_deal.execute(cmd))

    @r.delete(
        "/v1/deals/{deal_id}",
        status_code=204,
        operation_id="deleteDeal",
        summary="Delete a deal",
        description=u.delete_deal.__doc__,
        responses=problems(404, 412, 422),
    )
    async def delete_deal(deal_id: UUID, request: Request, if_match: IfMatch = None) -> Response:
        cmd = uc.DeleteDealCommand(principal(request), deal_id, parse_if_match(if_match))
        await u.delete_deal.execute(cmd)
        return Response(status_code=204)

    @r.post(
        "/v1/deals/{deal_id}/move",
        response_model=s.Deal,
        operation_id="moveDeal",
        summary="Move a deal to another stage",
        description=u.move_deal.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def move_deal(
        deal_id: UUID, body: s.DealMove, request: Request, if_match: IfMatch = None
    ) -> Response:
        cmd = uc.MoveDealCommand(
            principal(request), deal_id, body.stage_id, parse_if_match(if_match)
        )
        return deal_response(await u.move_deal.execute(cmd))

    @r.get(
        "/v1/deals/{deal_id}/stage-history",
        response_model=s.StageChangePage,
        operation_id="listDealStageHistory",
        summary="List a deal's stage history",
        description=u.stage_history.__doc__,
        responses=problems(404, 422),
    )
    async def list_deal_stage_history(
        deal_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await u.stage_history.execute(
            principal(request), deal_id, page_request(limit, cursor)
        )
        return page_of(page, change_dict)

    _links(r, c)
    return r


def link_response(link: DealLink) -> Response:
    body: dict[str, Any] = {"deal_id": link.deal_id, f"{link.kind.value}_id": link.other_id}
    body["linked_at"] = link.linked_at
    return json_response(body, 201 if link.created else 200)


def _links(r: APIRouter, c: Container) -> None:
    u = c.sales

    def command(request: Request, deal_id: UUID, kind: LinkedObject, other: UUID) -> LinkCommand:
        return LinkCommand(principal(request), deal_id, kind, other)

    @r.put(
        "/v1/deals/{deal_id}/contacts/{contact_id}",
        response_model=s.DealContactLink,
        operation_id="linkDealContact",
        summary="Link a contact to a deal",
        description=u.link_deal.__doc__,
        responses={**problems(404, 422), 200: LINKED, 201: {**CREATED, "model": s.DealContactLink}},
    )
    async def link_deal_contact(deal_id: UUID, contact_id: UUID, request: Request) -> Response:
        link = await u.link_deal.execute(
            command(request, deal_id, LinkedObject.CONTACT, contact_id)
        )
        return link_response(link)

    @r.delete(
        "/v1/deals/{deal_id}/contacts/{contact_id}",
        status_code=204,
        operation_id="unlinkDealContact",
        summary="Unlink a contact from a deal",
        description=u.unlink_deal.__doc__,
        responses=problems(404, 422),
    )
    async def unlink_deal_contact(deal_id: UUID, contact_id: UUID, request: Request) -> Response:
        await u.unlink_deal.execute(command(request, deal_id, LinkedObject.CONTACT, contact_id))
        return Response(status_code=204)

    @r.put(
        "/v1/deals/{deal_id}/companies/{company_id}",
        response_model=s.DealCompanyLink,
        operation_id="linkDealCompany",
        summary="Link a company to a deal",
        description=u.link_deal.__doc__,
        responses={**problems(404, 422), 200: LINKED, 201: {**CREATED, "model": s.DealCompanyLink}},
    )
    async def link_deal_company(deal_id: UUID, company_id: UUID, request: Request) -> Response:
        link = await u.link_deal.execute(
            command(request, deal_id, LinkedObject.COMPANY, company_id)
        )
        return link_response(link)

    @r.delete(
        "/v1/deals/{deal_id}/companies/{company_id}",
        status_code=204,
        operation_id="unlinkDealCompany",
        summary="Unlink a company from a deal",
        description=u.unlink_deal.__doc__,
        responses=problems(404, 422),
    )
    async def unlink_deal_company(deal_id: UUID, company_id: UUID, request: Request) -> Response:
        await u.unlink_deal.execute(command(request, deal_id, LinkedObject.COMPANY, company_id))
        return Response(status_code=204)

    @r.get(
        "/v1/deals/{deal_id}/contacts",
        response_model=s.DealContactPage,
        operation_id="listDealContacts",
        summary="List a deal's contacts",
        description=u.list_deal_contacts.__doc__,
        responses=problems(404, 422),
    )
    async def list_deal_contacts(
        deal_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page_ = page_request(limit, cursor)
        page = await u.list_deal_contacts.execute(principal(request), deal_id, page_)
        return linked_page(page, "contact", contact_dict)

    @r.get(
        "/v1/deals/{deal_id}/companies",
        response_model=s.DealCompanyPage,
        operation_id="listDealCompanies",
        summary="List a deal's companies",
        description=u.list_deal_companies.__doc__,
        responses=problems(404, 422),
    )
    async def list_deal_companies(
        deal_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page_ = page_request(limit, cursor)
        page = await u.list_deal_companies.execute(principal(request), deal_id, page_)
        return linked_page(page, "company", company_dict)

    @r.get(
        "/v1/contacts/{contact_id}/deals",
        response_model=s.LinkedDealPage,
        operation_id="listContactDeals",
        summary="List a contact's deals",
        description=u.list_deals_of.__doc__,
        responses=problems(404, 422),
    )
    async def list_contact_deals(
        contact_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page_ = page_request(limit, cursor)
        who = principal(request)
        page = await u.list_deals_of.execute(who, LinkedObject.CONTACT, contact_id, page_)
        return linked_page(page, "deal", deal_dict)

    @r.get(
        "/v1/companies/{company_id}/deals",
        response_model=s.LinkedDealPage,
        operation_id="listCompanyDeals",
        summary="List a company's deals",
        description=u.list_deals_of.__doc__,
        responses=problems(404, 422),
    )
    async def list_company_deals(
        company_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page_ = page_request(limit, cursor)
        who = principal(request)
        page = await u.list_deals_of.execute(who, LinkedObject.COMPANY, company_id, page_)
        return linked_page(page, "deal", deal_dict)
