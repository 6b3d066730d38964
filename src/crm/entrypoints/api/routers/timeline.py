"""Timelines (/v1/{contacts,companies,deals}/{id}/timeline) and the audit log (/v1/audit-events)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.types import DecoratedCallable

from crm.bootstrap import Container
from crm.domain.model.note import RecordType
from crm.domain.model.timeline import EventPage, EventPosition, RecordedEvent
from crm.domain.pagination import MAX_LIMIT
from crm.domain.use_cases.timeline import AuditQuery
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import timeline as s
from crm.entrypoints.api.schemas.shared import Instant
from crm.entrypoints.api.views import json_response

_PATHS = {
    "Contact": "/v1/contacts/{contact_id}/timeline",
    "Company": "/v1/companies/{company_id}/timeline",
    "Deal": "/v1/deals/{deal_id}/timeline",
}
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]
Topic = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="An exact topic (`deal.moved`) or, ending in `.`, a prefix (`contact.`)",
    ),
]
At = Annotated[Instant | None, Query(description="RFC 3339 time with an offset")]


def entry_dict(e: RecordedEvent) -> dict[str, Any]:
    actor = None if e.actor is None else {"id": str(e.actor.id), "kind": e.actor.kind.value}
    return {
        "id": str(e.id),
        "topic": e.topic,
        "occurred_at": e.occurred_at,
        "actor": actor,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": str(e.aggregate_id),
        "changes": e.changes,
        "data": e.data,
    }


def events_page(page: EventPage) -> Response:
    cursor = None if page.next is None else page.next.encode()
    return json_response({"data": [entry_dict(e) for e in page.items], "next_cursor": cursor})


def _after(cursor: str | None) -> EventPosition | None:
    return None if cursor is None else EventPosition.decode(cursor)


def _timeline_routes(c: Container, r: APIRouter) -> None:
    def route(name: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return r.get(
            _PATHS[name],
            response_model=s.TimelinePage,
            operation_id=f"get{name}Timeline",
            summary=f"A {name.lower()}'s timeline, newest first",
            description=c.get_record_timeline.__doc__,
            responses=problems(404, 422),
            tags=["timeline"],
        )

    async def page(
        kind: RecordType, record_id: UUID, request: Request, limit: int, cursor: str | None
    ) -> Response:
        found = await c.get_record_timeline.execute(
            principal(request), kind, record_id, limit, _after(cursor)
        )
        return events_page(found)

    @route("Contact")
    async def get_contact_timeline(
        contact_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await page(RecordType.CONTACT, contact_id, request, limit, cursor)

    @route("Company")
    async def get_company_timeline(
        company_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await page(RecordType.COMPANY, company_id, request, limit, cursor)

    @route("Deal")
    async def get_deal_timeline(
        deal_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await page(RecordType.DEAL, deal_id, request, limit, cursor)


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)
    _timeline_routes(c, r)

    @r.get(
        "/v1/audit-events",
        response_model=s.AuditEventPage,
        operation_id="listAuditEvents",
        summary="List the workspace's audit events, newest first",
        description=c.list_audit_events.__doc__,
        responses=problems(422),
        tags=["audit"],
    )
    async def list_audit_events(
        request: Request,
        limit: Limit = 50,
        cursor: Cursor = None,
        actor_id: UUID | None = None,
        topic: Topic = None,
        record_type: s.AuditRecordType | None = None,
        record_id: UUID | None = None,
        since: At = None,
        until: At = None,
    ) -> Response:
        who, after = principal(request), _after(cursor)
        q = AuditQuery(who, limit, after, actor_id, topic, record_type, record_id, since, until)
        return events_page(await c.list_audit_events.execute(q))

    return r
