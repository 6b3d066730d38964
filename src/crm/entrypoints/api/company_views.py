"""Companies and their links as JSON, serialized once (like serialize.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from starlette.responses import Response

from crm.domain.model.company import Company, Linked
from crm.domain.model.contact import Contact
from crm.domain.pagination import Page, SortOrder, encode_cursor
from crm.entrypoints.api.serialize import contact_dict
from crm.entrypoints.api.views import json_response

T = TypeVar("T")


def company_dict(c: Company) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "domain": c.domain,
        "industry": c.industry,
        "size_band": None if c.size_band is None else c.size_band.value,
        "country": c.country,
        "address": None if c.address is None else asdict(c.address),
        "website": c.website,
        "owner_id": None if c.owner_id is None else str(c.owner_id),
        "tags": c.tags,
        "custom_fields": c.custom_fields,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def company_response(company: Company, status: int = 200, location: bool = False) -> Response:
    headers = {"ETag": f'"{company.version}"'}
    if location:
        headers["Location"] = f"/v1/companies/{company.id}"
    return json_response(company_dict(company), status, headers)


def companies_page(page: Page[Company], order: SortOrder) -> Response:
    cursor = None if page.next is None else encode_cursor(page.next, order)
    return json_response({"data": [company_dict(c) for c in page.items], "next_cursor": cursor})


def _linked(page: Page[Linked[T]], name: str, item: Callable[[T], dict[str, Any]]) -> Response:
    cursor = None if page.next is None else encode_cursor(page.next, SortOrder.OLDEST_FIRST)
    data = [
        {name: item(x.item), "is_primary": x.is_primary, "linked_at": x.linked_at}
        for x in page.items
    ]
    return json_response({"data": data, "next_cursor": cursor})


def contact_companies_page(page: Page[Linked[Company]]) -> Response:
    return _linked(page, "company", company_dict)


def company_contacts_page(page: Page[Linked[Contact]]) -> Response:
    return _linked(page, "contact", contact_dict)
