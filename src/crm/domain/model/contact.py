"""The Contact aggregate: a person a sales team talks to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model import contact_rules as rules
from crm.domain.model.changes import FieldChange, apply_changes
from crm.domain.model.contact_rules import JsonScalar, LifecycleStage, PhoneNormalizer
from crm.domain.model.merging import CONTACT_LIMITS, CONTACT_RULES, merged_values


@dataclass(slots=True)
class Contact:
    """Always valid: built by `create` or loaded from storage, changed only by `apply`."""

    id: UUID
    workspace_id: UUID
    display_name: str | None
    first_name: str | None
    last_name: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    job_title: str | None
    company_name: str | None
    owner_id: UUID | None
    tags: tuple[str, ...]
    lifecycle_stage: LifecycleStage
    custom_fields: dict[str, JsonScalar]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    external_id: str | None = None

    @property
    def name(self) -> str:
        """What people see: the display name, else first + last, else an email or a phone."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.display_name or full or next(iter(self.emails + self.phones), "")

    @classmethod
    def create(cls, id: UUID, workspace_id: UUID, data: ContactData, now: datetime) -> Contact:
        contact = cls(id, workspace_id, **data.as_dict(), created_at=now, updated_at=now)
        contact._check_identity()
        return contact

    def apply(self, changes: Mapping[str, Any], now: datetime) -> dict[str, FieldChange]:
        """Apply validated changes; returns the fields whose values really changed."""
        return apply_changes(self, changes, now, check=self._check_identity)

    def merge(self, source: Contact, now: datetime) -> dict[str, FieldChange]:
        """Take in `source`'s fields by the merge rule (`merging`); returns what changed."""
        return self.apply(merged_values(self, source, CONTACT_RULES, CONTACT_LIMITS), now)

    def _check_identity(self) -> None:
        if not self.name:
            raise InvalidInput(
                "A contact needs a name, an email or a phone number.",
                errors=(
                    FieldError("/display_name", "identity_required", "give a name, email or phone"),
                ),
            )


_TEXT_FIELDS = {
    "display_name": 200,
    "first_name": 100,
    "last_name": 100,
    "job_title": 200,
    "company_name": 200,
}


@dataclass(frozen=True, slots=True)
class ContactData:
    """Every editable field of a contact, validated and normalized."""

    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    job_title: str | None = None
    company_name: str | None = None
    owner_id: UUID | None = None
    tags: tuple[str, ...] = ()
    lifecycle_stage: LifecycleStage = LifecycleStage.LEAD
    custom_fields: dict[str, JsonScalar] = field(default_factory=dict)
    external_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def parse(cls, raw: Mapping[str, Any], normalize_phone: PhoneNormalizer) -> ContactData:
        """Validate a whole contact; every broken field is reported, not just the first."""
        values = parse_fields(raw, normalize_phone)
        if values.get("lifecycle_stage") is None:
            values.pop("lifecycle_stage", None)
        values["custom_fields"] = {
            k: v for k, v in (values.get("custom_fields") or {}).items() if v is not None
        }
        return cls(**values)


def field_rules(normalize_phone: PhoneNormalizer) -> dict[str, Callable[[Any], Any]]:
    table: dict[str, Callable[[Any], Any]] = {k: rules.text(n) for k, n in _TEXT_FIELDS.items()}
    table.update(
        emails=rules.emails,
        phones=rules.phones(normalize_phone),
        tags=rules.tags,
        lifecycle_stage=lambda v: None if v is None else rules.lifecycle_stage(v),
        custom_fields=rules.custom_fields,
        owner_id=lambda v: v,
        external_id=rules.external_id,
    )
    return table


def parse_fields(raw: Mapping[str, Any], normalize_phone: PhoneNormalizer) -> dict[str, Any]:
    """Validate the fields present in `raw` (a partial update validates only those)."""
    return rules.apply_rules(field_rules(normalize_phone), raw, "contact")


def parse_changes(raw: Mapping[str, Any], normalize_phone: PhoneNormalizer) -> dict[str, Any]:
    """Validate a partial update; null clears a field (lists become empty, stage resets)."""
    values = parse_fields(raw, normalize_phone)
    if "lifecycle_stage" in values and values["lifecycle_stage"] is None:
        values["lifecycle_stage"] = LifecycleStage.LEAD
    return values
