"""Companies and their links as JSON, serialized once (like serialize.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from starlette.responses import Response

from crm.domain.model.company import Company, Linked
from crm.domain.model.contact import Contact
from crm.domain.pagination import Page, SortOrder
from crm.entrypoints.api.serialize import contact_dict
from crm.entrypoints.api.views import page_of, versioned_response

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
    where = f"/v1/companies/{company.id}" if location else None
    return versioned_response(company_dict(company), company.version, status, where)


def companies_page(page: Page[Company], order: SortOrder) -> Response:
    return page_of(page, company_dict, order)


def _linked(page: Page[Linked[T]], name: str, item: Callable[[T], dict[str, Any]]) -> Response:
    return page_of(
        page, lambda x: {name: item(x.item), "is_primary": x.is_primary, "linked_at": x.linked_at}
    )


def contact_companies_page(page: Page[Linked[Company]]) -> Response:
    return _linked(page, "company", company_dict)


def company_contacts_page(page: Page[Linked[Contact]]) -> Response:
    return _linked(page, "contact", contact_dict)
