"""Notes: /v1/{contacts,companies,deals}/{id}/notes and /v1/notes/{note_id}."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.types import DecoratedCallable

from crm.bootstrap import Container
from crm.domain.model.note import Note, NotePage, NotePosition, RecordType
from crm.domain.pagination import MAX_LIMIT
from crm.domain.use_cases.notes import AddNoteCommand, DeleteNoteCommand, UpdateNoteCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas import notes as s
from crm.entrypoints.api.views import json_response, versioned_response

READ = {"description": "The note", "headers": ETAG}
CREATED = {
    "description": "Added; `Location` names it and `ETag` carries its version",
    "headers": {
        **ETAG,
        "Location": {
            "description": "The new note's URL",
            "required": True,
            "schema": {"type": "string"},
        },
    },
}
_PATHS = {
    "Contact": "/v1/contacts/{contact_id}/notes",
    "Company": "/v1/companies/{company_id}/notes",
    "Deal": "/v1/deals/{deal_id}/notes",
}
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]


def note_dict(n: Note) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "record_type": n.record_type.value,
        "record_id": str(n.record_id),
        "text": n.text,
        "author_id": str(n.author_id),
        "pinned": n.pinned,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
        "version": n.version,
    }


def note_response(note: Note, status: int = 200, location: bool = False) -> Response:
    where = f"/v1/notes/{note.id}" if location else None
    return versioned_response(note_dict(note), note.version, status, where)


def notes_page(page: NotePage) -> Response:
    cursor = None if page.next is None else page.next.encode()
    return json_response({"data": [note_dict(n) for n in page.items], "next_cursor": cursor})


async def _add(
    c: Container, kind: RecordType, record_id: UUID, body: s.NoteCreate, request: Request
) -> Note:
    cmd = AddNoteCommand(principal(request), kind, record_id, body.text, body.pinned)
    return await c.add_note.execute(cmd)


async def _list(
    c: Container,
    kind: RecordType,
    record_id: UUID,
    request: Request,
    limit: int,
    cursor: str | None,
) -> NotePage:
    after = None if cursor is None else NotePosition.decode(cursor)
    return await c.list_notes.execute(principal(request), kind, record_id, limit, after)


def _record_routes(c: Container, r: APIRouter) -> None:
    def add(name: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return r.post(
            _PATHS[name],
            status_code=201,
            response_model=s.Note,
            operation_id=f"add{name}Note",
            summary=f"Add a note to a {name.lower()}",
            description=c.add_note.__doc__,
            responses={**problems(400, 404, 413, 415, 422), 201: CREATED},
        )

    def lst(name: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return r.get(
            _PATHS[name],
            response_model=s.NotePage,
            operation_id=f"list{name}Notes",
            summary=f"List a {name.lower()}'s notes",
            description=c.list_notes.__doc__,
            responses=problems(404, 422),
        )

    @add("Contact")
    async def add_contact_note(contact_id: UUID, body: s.NoteCreate, request: Request) -> Response:
        note = await _add(c, RecordType.CONTACT, contact_id, body, request)
        return note_response(note, 201, location=True)

    @lst("Contact")
    async def list_contact_notes(
        contact_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return notes_page(await _list(c, RecordType.CONTACT, contact_id, request, limit, cursor))

    @add("Company")
    async def add_company_note(company_id: UUID, body: s.NoteCreate, request: Request) -> Response:
        note = await _add(c, RecordType.COMPANY, company_id, body, request)
        return note_response(note, 201, location=True)

    @lst("Company")
    async def list_company_notes(
        company_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return notes_page(await _list(c, RecordType.COMPANY, company_id, request, limit, cursor))

    @add("Deal")
    async def add_deal_note(deal_id: UUID, body: s.NoteCreate, request: Request) -> Response:
        note = await _add(c, RecordType.DEAL, deal_id, body, request)
        return note_response(note, 201, location=True)

    @lst("Deal")
    async def list_deal_notes(
        deal_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        return notes_page(await _list(c, RecordType.DEAL, deal_id, request, limit, cursor))


def build(c: Container) -> APIRouter:
    r = APIRouter(tags=["notes"], route_class=LeanRoute)
    _record_routes(c, r)

    @r.get(
        "/v1/notes/{note_id}",
        response_model=s.Note,
        operation_id="getNote",
        summary="Get a note",
        description=c.get_note.__doc__,
        responses={**problems(404, 422), 200: READ},
    )
    async def get_note(note_id: UUID, request: Request) -> Response:
        return note_response(await c.get_note.execute(principal(request), note_id))

    @r.patch(
        "/v1/notes/{note_id}",
        response_model=s.Note,
        operation_id="updateNote",
        summary="Update a note",
        description=c.update_note.__doc__,
        responses={**problems(400, 404, 409, 412, 413, 415, 422), 200: READ},
    )
    async def update_note(
        note_id: UUID, body: s.NoteUpdate, request: Request, if_match: IfMatch = None
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateNoteCommand(principal(request), note_id, changes, parse_if_match(if_match))
        return note_response(await c.update_note.execute(cmd))

    @r.delete(
        "/v1/notes/{note_id}",
        status_code=204,
        operation_id="deleteNote",
        summary="Delete a note",
        description=c.delete_note.__doc__,
        responses=problems(404, 412, 422),
    )
    async def delete_note(note_id: UUID, request: Request, if_match: IfMatch = None) -> Response:
        cmd = DeleteNoteCommand(principal(request), note_id, parse_if_match(if_match))
        await c.delete_note.execute(cmd)
        return Response(status_code=204)

    return r
