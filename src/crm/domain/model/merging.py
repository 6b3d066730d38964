"""Merging two records of one kind: which value each field keeps, and the tombstone left.

The rule, for every field of the record (fields added later included; only identity and
bookkeeping are left out): the survivor's value wins unless it is empty (null, "", an empty
list or map), in which case the source's is taken. Lists (emails, phones, tags, multi-select
values) are unioned, the survivor's items first, without duplicates. Maps (custom fields)
merge key by key by the same rule. A field may have a rule of its own (a contact's
lifecycle stage keeps the further stage); see `Contact.merge` and `Company.merge`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import (
    CompanyMerged,
    CompanyNotFound,
    ContactMerged,
    ContactNotFound,
    FieldError,
    InvalidInput,
    NotFound,
)
from crm.domain.model.contact_rules import (
    MAX_CUSTOM_FIELDS,
    MAX_EMAILS,
    MAX_PHONES,
    MAX_TAGS,
    LifecycleStage,
)
from crm.domain.model.note import RecordType

# Who the record is and when it was written: never taken from the source.
UNMERGED = frozenset({"id", "workspace_id", "created_at", "updated_at", "version"})

FieldRule = Callable[[Any, Any], Any]
"""A field's own rule: (survivor's value, source's value) -> the value the survivor keeps."""


def is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, tuple | list | dict) and not value)


def merge_value(kept: Any, other: Any) -> Any:
    """The default rule for one value (see the module's docstring)."""
    if isinstance(kept, tuple | list) and isinstance(other, tuple | list):
        union = list(dict.fromkeys([*kept, *other]))
        return tuple(union) if isinstance(kept, tuple) else union
    if isinstance(kept, Mapping) and isinstance(other, Mapping):
        keys = dict.fromkeys([*kept, *other])
        return {k: merge_value(kept.get(k), other.get(k)) for k in keys}
    return other if is_empty(kept) else kept


def merged_values(
    survivor: Any,
    source: Any,
    rules: Mapping[str, FieldRule] | None = None,
    limits: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Every mergeable field of the `survivor` dataclass with the value it keeps after taking
    in `source`. `rules` overrides the default rule per field; a list or map longer than its
    `limits` entry after the union is refused (422 naming the field), never cut short."""
    values: dict[str, Any] = {}
    for f in fields(survivor):
        if f.name in UNMERGED:
            continue
        rule = (rules or {}).get(f.name, merge_value)
        values[f.name] = rule(getattr(survivor, f.name), getattr(source, f.name))
    too_many = [
        FieldError(f"/{name}", "too_many", f"merged, it would hold {len(values[name])} (max {n})")
        for name, n in (limits or {}).items()
        if len(values[name]) > n
    ]
    if too_many:
        raise InvalidInput(
            "The merged record would hold more values than allowed; remove some first.",
            errors=tuple(too_many),
        )
    return values


# A contact keeps the stage furthest along the funnel; `other` says nothing about progress,
# so any funnel stage beats it.
FUNNEL = (
    LifecycleStage.OTHER,
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MARKETING_QUALIFIED_LEAD,
    LifecycleStage.SALES_QUALIFIED_LEAD,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
    LifecycleStage.EVANGELIST,
)


def further_stage(kept: LifecycleStage, other: LifecycleStage) -> LifecycleStage:
    """The stage further along the funnel; the survivor's on a tie."""
    return other if FUNNEL.index(other) > FUNNEL.index(kept) else kept


CONTACT_RULES: dict[str, FieldRule] = {"lifecycle_stage": further_stage}
CONTACT_LIMITS = {
    "emails": MAX_EMAILS,
    "phones": MAX_PHONES,
    "tags": MAX_TAGS,
    "custom_fields": MAX_CUSTOM_FIELDS,
}
COMPANY_LIMITS = {"tags": MAX_TAGS, "custom_fields": MAX_CUSTOM_FIELDS}


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A record merged away: reads of its id answer 404 naming `merged_into`."""

    workspace_id: UUID
    record_type: RecordType
    id: UUID
    merged_into: UUID
    merged_by: UUID | None
    merged_at: datetime


def not_found(kind: RecordType, record_id: UUID, into: UUID | None, what: str = "") -> NotFound:
    """The 404 for a contact or company that is not there: `contact_merged` / `company_merged`
    naming the survivor when its tombstone says `into`, else plain not found. `what` goes
    before the noun in the detail (e.g. "source ")."""
    if into is None:
        plain = ContactNotFound if kind is RecordType.CONTACT else CompanyNotFound
        return plain(f"No {what}{kind.value} {record_id} in this workspace.")
    merged = ContactMerged if kind is RecordType.CONTACT else CompanyMerged
    return merged(f"The {what}{kind.value} {record_id} was merged into {into}.", into)
