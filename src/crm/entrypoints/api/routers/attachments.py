"""Attachments: /v1/{contacts,companies,deals,notes}/{id}/attachments and
/v1/attachments/{attachment_id} (confirm, download, delete)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.types import DecoratedCallable

from crm.bootstrap import Container
from crm.domain.model.attachments import AttachedTo, Attachment
from crm.domain.pagination import PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.attachments import (
    AttachmentUseCases,
    StartAttachmentCommand,
    StartedAttachment,
)
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit
from crm.entrypoints.api.schemas import attachments as s
from crm.entrypoints.api.views import json_response, page_of, versioned_response

ONE = "/v1/attachments/{attachment_id}"
_NEWEST = SortOrder.NEWEST_FIRST
_PATHS = {
    AttachedTo.CONTACT: "/v1/contacts/{contact_id}/attachments",
    AttachedTo.COMPANY: "/v1/companies/{company_id}/attachments",
    AttachedTo.DEAL: "/v1/deals/{deal_id}/attachments",
    AttachedTo.NOTE: "/v1/notes/{note_id}/attachments",
}
READ = {"description": "The attachment", "headers": ETAG}
STARTED = {
    "description": "Started; `Location` names the attachment, `ETag` carries its version",
    "headers": {
        **ETAG,
        "Location": {
            "description": "The new attachment's URL",
            "required": True,
            "schema": {"type": "string"},
        },
    },
}


def attachment_dict(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "record_type": a.record_type.value,
        "record_id": a.record_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "max_bytes": a.max_bytes,
        "size": a.size,
        "status": a.status.value,
        "created_by": a.created_by,
        "created_at": a.created_at,
        "confirmed_at": a.confirmed_at,
        "version": a.version,
    }


def _one(a: Attachment) -> Response:
    return versioned_response(attachment_dict(a), a.version)


def _started(made: StartedAttachment) -> Response:
    a, form = made.attachment, made.upload
    upload = {"url": form.url, "fields": form.fields, "expires_at": form.expires_at}
    body = {"attachment": attachment_dict(a), "upload": upload}
    return versioned_response(body, a.version, 201, f"/v1/attachments/{a.id}")


def _page(limit: int, cursor: str | None) -> PageRequest:
    return PageRequest(limit, None if cursor is None else decode_cursor(cursor, _NEWEST), _NEWEST)


async def _start(
    uc: AttachmentUseCases,
    kind: AttachedTo,
    record_id: UUID,
    body: s.AttachmentCreate,
    request: Request,
) -> Response:
    values = (body.filename, body.content_type, body.max_bytes)
    cmd = StartAttachmentCommand(principal(request), kind, record_id, *values)
    return _started(await uc.start.execute(cmd))


async def _list(
    uc: AttachmentUseCases,
    kind: AttachedTo,
    record_id: UUID,
    request: Request,
    page: tuple[int, str | None],
) -> Response:
    found = await uc.list.execute(principal(request), kind, record_id, _page(*page))
    return page_of(found, attachment_dict, _NEWEST)


def _post(
    r: APIRouter, uc: AttachmentUseCases, kind: AttachedTo
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    return r.post(
        _PATHS[kind],
        status_code=201,
        response_model=s.AttachmentStarted,
        operation_id=f"start{kind.value.capitalize()}Attachment",
        summary=f"Attach a file to a {kind.value}",
        description=uc.start.__doc__,
        responses={**problems(400, 404, 413, 415, 422), 201: STARTED},
    )


def _get(
    r: APIRouter, uc: AttachmentUseCases, kind: AttachedTo
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    return r.get(
        _PATHS[kind],
        response_model=s.AttachmentPage,
        operation_id=f"list{kind.value.capitalize()}Attachments",
        summary=f"List a {kind.value}'s attachments",
        description=uc.list.__doc__,
        responses=problems(404, 422),
    )


def _record_routes(uc: AttachmentUseCases, r: APIRouter) -> None:
    """Two routes per kind of record: start an attachment, list the ready ones."""
    post, get = partial(_post, r, uc), partial(_get, r, uc)

    @post(AttachedTo.CONTACT)
    async def start_contact_attachment(
        contact_id: UUID, body: s.AttachmentCreate, request: Request
    ) -> Response:
        return await _start(uc, AttachedTo.CONTACT, contact_id, body, request)

    @get(AttachedTo.CONTACT)
    async def list_contact_attachments(
        contact_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await _list(uc, AttachedTo.CONTACT, contact_id, request, (limit, cursor))

    @post(AttachedTo.COMPANY)
    async def start_company_attachment(
        company_id: UUID, body: s.AttachmentCreate, request: Request
    ) -> Response:
        return await _start(uc, AttachedTo.COMPANY, company_id, body, request)

    @get(AttachedTo.COMPANY)
    async def list_company_attachments(
        company_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await _list(uc, AttachedTo.COMPANY, company_id, request, (limit, cursor))

    @post(AttachedTo.DEAL)
    async def start_deal_attachment(
        deal_id: UUID, body: s.AttachmentCreate, request: Request
    ) -> Response:
        return await _start(uc, AttachedTo.DEAL, deal_id, body, request)

    @get(AttachedTo.DEAL)
    async def list_deal_attachments(
        deal_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await _list(uc, AttachedTo.DEAL, deal_id, request, (limit, cursor))

    @post(AttachedTo.NOTE)
    async def start_note_attachment(
        note_id: UUID, body: s.AttachmentCreate, request: Request
    ) -> Response:
        return await _start(uc, AttachedTo.NOTE, note_id, body, request)

    @get(AttachedTo.NOTE)
    async def list_note_attachments(
        note_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return await _list(uc, AttachedTo.NOTE, note_id, request, (limit, cursor))


def build(c: Container) -> APIRouter:
    r = APIRouter(tags=["attachments"], route_class=LeanRoute)
    attachments = c.attachments
    _record_routes(attachments, r)

    @r.post(
        f"{ONE}/confirm",
        response_model=s.Attachment,
        operation_id="confirmAttachment",
        summary="Confirm an attachment's upload",
        description=attachments.confirm.__doc__,
        responses={**problems(404, 409, 422), 200: READ},
    )
    async def confirm_attachment(attachment_id: UUID, request: Request) -> Response:
        return _one(await attachments.confirm.execute(principal(request), attachment_id))

    @r.get(
        ONE,
        response_model=s.Attachment,
        operation_id="getAttachment",
        summary="Get an attachment",
        description=attachments.get.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_attachment(attachment_id: UUID, request: Request) -> Response:
        return _one(await attachments.get.execute(principal(request), attachment_id))

    @r.get(
        f"{ONE}/download",
        response_model=s.AttachmentDownload,
        operation_id="downloadAttachment",
        summary="Get a link that downloads an attachment",
        description=attachments.download.__doc__,
        responses=problems(404, 409, 422),
    )
    async def download_attachment(attachment_id: UUID, request: Request) -> Response:
        link = await attachments.download.execute(principal(request), attachment_id)
        return json_response({"url": link.url, "expires_at": link.expires_at})

    @r.delete(
        ONE,
        status_code=204,
        operation_id="deleteAttachment",
        summary="Delete an attachment and its file",
        description=attachments.delete.__doc__,
        responses=problems(400, 404, 412, 422),
    )
    async def delete_attachment(
        attachment_id: UUID, request: Request, if_match: IfMatch = None
    ) -> Response:
        await attachments.delete.execute(
            principal(request), attachment_id, parse_if_match(if_match)
        )
        return Response(status_code=204)

    return r
