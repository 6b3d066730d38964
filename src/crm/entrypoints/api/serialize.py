"""Domain objects to JSON bytes, once, with orjson (the response schemas only document them)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from crm.domain.model.contact import Contact
from crm.domain.pagination import Page, SortOrder, encode_cursor

_OPTIONS = orjson.OPT_UTC_Z


def contact_dict(c: Contact) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "display_name": c.display_name,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "emails": c.emails,
        "phones": c.phones,
        "job_title": c.job_title,
        "company_name": c.company_name,
        "owner_id": None if c.owner_id is None else str(c.owner_id),
        "external_id": c.external_id,
        "tags": c.tags,
        "lifecycle_stage": c.lifecycle_stage.value,
        "custom_fields": c.custom_fields,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def contact_response(contact: Contact, status: int = 200, location: bool = False) -> Response:
    headers = {"ETag": f'"{contact.version}"'}
    if location:
        headers["Location"] = f"/v1/contacts/{contact.id}"
    body = orjson.dumps(contact_dict(contact), option=_OPTIONS)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def page_response(page: Page[Contact], order: SortOrder) -> Response:
    cursor = None if page.next is None else encode_cursor(page.next, order)
    body = {"data": [contact_dict(c) for c in page.items], "next_cursor": cursor}
    return Response(orjson.dumps(body, option=_OPTIONS), media_type="application/json")
