"""Search results as CSV, streamed a chunk at a time.

Columns: the object's built-in fields (lists joined with `;`), then `custom_fields.<key>` for
each active custom field. Rows go through the one CSV writer (`csv_writer`), which defuses
formula-looking text (phones in E.164 therefore read `'+14155550123`); each item of a list is
defused too, for spreadsheets that split cells on `;`. Numbers are written as they are.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.domain.use_cases.search import Export
from crm.entrypoints.api.company_views import company_dict
from crm.entrypoints.api.csv_writer import csv_text, neutralize
from crm.entrypoints.api.deal_views import deal_dict
from crm.entrypoints.api.serialize import contact_dict

T = TypeVar("T", Contact, Company, Deal)

CONTACT_COLUMNS = (
    "id", "name", "display_name", "first_name", "last_name", "emails", "phones", "job_title",
    "company_name", "lifecycle_stage", "external_id", "owner_id", "tags", "created_at",
    "updated_at",
)  # fmt: skip
COMPANY_COLUMNS = (
    "id", "name", "domain", "industry", "size_band", "country", "website", "owner_id", "tags",
    "created_at", "updated_at",
)  # fmt: skip
DEAL_COLUMNS = (
    "id", "name", "amount_minor", "currency", "pipeline_id", "stage_id", "status", "owner_id",
    "expected_close_date", "closed_at", "tags", "created_at", "updated_at",
)  # fmt: skip
EXPORTS: dict[type, tuple[tuple[str, ...], Callable[[Any], dict[str, Any]]]] = {
    Contact: (CONTACT_COLUMNS, contact_dict),
    Company: (COMPANY_COLUMNS, company_dict),
    Deal: (DEAL_COLUMNS, deal_dict),
}


def cell(value: Any) -> str | int | float:
    """One value as a CSV cell (the writer defuses formula-looking text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        return ";".join(neutralize(str(cell(v))) for v in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date | UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


async def csv_lines(kind: type[T], export: Export[T]) -> AsyncIterator[str]:
    """The header row, then one string per chunk of records."""
    columns: tuple[str, ...] = EXPORTS[kind][0]
    as_dict = EXPORTS[kind][1]
    yield csv_text([[*columns, *(f"custom_fields.{k}" for k in export.custom_keys)]])
    async for chunk in export.chunks:
        rows = []
        for record in chunk:
            values = as_dict(record)
            custom = values["custom_fields"]
            row = [cell(values[c]) for c in columns]
            rows.append(row + [cell(custom.get(k)) for k in export.custom_keys])
        yield csv_text(rows)
