"""The Company aggregate, and a contact's link to one (a contact works at any number of them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from crm.domain.model import company_rules as rules
from crm.domain.model import contact_rules
from crm.domain.model.changes import FieldChange, apply_changes
from crm.domain.model.company_rules import Address, SizeBand
from crm.domain.model.contact_rules import RuleBroken
from crm.domain.model.merging import COMPANY_LIMITS, merged_values

T = TypeVar("T")


@dataclass(slots=True)
class Company:
    """Always valid: built by `create` or loaded from storage, changed only by `apply`."""

    id: UUID
    workspace_id: UUID
    name: str
    domain: str | None
    industry: str | None
    size_band: SizeBand | None
    country: str | None
    address: Address | None
    website: str | None
    owner_id: UUID | None
    tags: tuple[str, ...]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @classmethod
    def create(cls, id: UUID, workspace_id: UUID, data: CompanyData, now: datetime) -> Company:
        return cls(id, workspace_id, **data.as_dict(), created_at=now, updated_at=now)

    def apply(self, changes: Mapping[str, Any], now: datetime) -> dict[str, FieldChange]:
        """Apply validated changes; returns the fields whose values really changed."""
        return apply_changes(self, changes, now)

    def merge(self, source: Company, now: datetime) -> dict[str, FieldChange]:
        """Take in `source`'s fields by the merge rule (`merging`); returns what changed."""
        return self.apply(merged_values(self, source, limits=COMPANY_LIMITS), now)


@dataclass(frozen=True, slots=True)
class CompanyData:
    """Every editable field of a company, validated and normalized."""

    name: str
    domain: str | None = None
    industry: str | None = None
    size_band: SizeBand | None = None
    country: str | None = None
    address: Address | None = None
    website: str | None = None
    owner_id: UUID | None = None
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CompanyData:
        """Validate a whole company; every broken field is reported, not just the first."""
        values = parse_fields({"name": None, **raw})
        values["custom_fields"] = {
            k: v for k, v in (values.get("custom_fields") or {}).items() if v is not None
        }
        return cls(**values)


def _name(value: Any) -> str:
    cleaned = contact_rules.text(200)(value)
    if cleaned is None:
        raise RuleBroken("required", "a company needs a name")
    return cleaned


FIELD_RULES: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "domain": rules.domain,
    "industry": contact_rules.text(100),
    "size_band": rules.size_band,
    "country": rules.country,
    "address": rules.address,
    "website": rules.website,
    "owner_id": lambda v: v,
    "tags": contact_rules.tags,
    # Checked against the workspace's definitions by the use case (FieldSchema.validate).
    "custom_fields": lambda v: dict(v or {}),
}


def parse_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the fields present in `raw` (a partial update validates only those); null
    clears a field (tags become empty), but a name cannot be cleared."""
    return contact_rules.apply_rules(FIELD_RULES, raw, "company")


@dataclass(frozen=True, slots=True)
class CompanyLink:
    """A contact works at a company; at most one of a contact's links is its primary one."""

    workspace_id: UUID
    contact_id: UUID
    company_id: UUID
    is_primary: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Linked(Generic[T]):
    """One row of a link list: the object at the other end, and the link's own facts."""

    item: T
    is_primary: bool
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """What linking a contact to a company changes: the link afterwards, the rows to write
    (an old primary cleared first), and the contact's primary company before and after."""

    link: CompanyLink
    created: bool
    writes: tuple[CompanyLink, ...]
    primary_before: UUID | None
    primary_after: UUID | None


def plan_link(links: Sequence[CompanyLink], link: CompanyLink, primary: bool | None) -> LinkPlan:
    """Link `link.contact_id` to `link.company_id` given the contact's current `links`.

    `primary` true makes it the one primary company (the old one is cleared), false makes
    it a secondary one; left out, an existing link keeps its flag and a new link becomes
    primary only when the contact has no primary company."""
    existing = next((x for x in links if x.company_id == link.company_id), None)
    old_primary = next((x for x in links if x.is_primary), None)
    before = None if old_primary is None else old_primary.company_id
    if primary is None:
        primary = existing.is_primary if existing is not None else before is None
    created_at = link.created_at if existing is None else existing.created_at
    after = replace(link, is_primary=primary, created_at=created_at)
    writes: list[CompanyLink] = []
    if primary and old_primary is not None and before != link.company_id:
        writes.append(replace(old_primary, is_primary=False))
    if after != existing:
        writes.append(after)
    primary_after = link.company_id if primary else (None if before == link.company_id else before)
    return LinkPlan(after, existing is None, tuple(writes), before, primary_after)
