"""The Deal aggregate: a sale in progress, in one stage of one pipeline.

Its status is the kind of its stage (open, won, lost); `closed_at` is set when the status
becomes won or lost and cleared when the deal is reopened.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from crm.domain.errors import InvalidInput
from crm.domain.model import contact_rules as rules
from crm.domain.model import money
from crm.domain.model.changes import FieldChange, apply_changes
from crm.domain.model.pipeline import Stage, StageKind

DealStatus = StageKind
T = TypeVar("T")


class LinkedObject(enum.StrEnum):
    """What a deal links to."""

    CONTACT = "contact"
    COMPANY = "company"


@dataclass(slots=True)
class Deal:
    id: UUID
    workspace_id: UUID
    name: str
    amount_minor: int | None
    currency: str | None
    pipeline_id: UUID
    stage_id: UUID
    status: DealStatus
    owner_id: UUID | None
    expected_close_date: date | None
    closed_at: datetime | None
    tags: tuple[str, ...]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    external_id: str | None = None

    @classmethod
    def create(
        cls,
        id: UUID,
        workspace_id: UUID,
        data: DealData,
        pipeline_id: UUID,
        stage: Stage,
        now: datetime,
    ) -> Deal:
        closed = None if stage.kind is StageKind.OPEN else now
        return cls(
            id,
            workspace_id,
            **data.as_dict(),
            pipeline_id=pipeline_id,
            stage_id=stage.id,
            status=stage.kind,
            closed_at=closed,
            created_at=now,
            updated_at=now,
        )

    def move_to(self, stage: Stage, now: datetime) -> bool:
        """Enter `stage` (of this deal's pipeline); False when the deal is already there."""
        if stage.id == self.stage_id:
            return False
        if stage.kind is StageKind.OPEN:
            self.closed_at = None
        elif stage.kind is not self.status:
            self.closed_at = now
        self.stage_id, self.status = stage.id, stage.kind
        self.updated_at = now
        self.version += 1
        return True

    def apply(self, changes: Mapping[str, Any], now: datetime) -> dict[str, FieldChange]:
        """Apply validated changes; returns the fields whose values really changed (an
        amount and its currency must still go together)."""
        return apply_changes(
            self, changes, now, check=lambda: money.check_pair(self.amount_minor, self.currency)
        )


@dataclass(frozen=True, slots=True)
class LinkedTo(Generic[T]):
    """One row of a link list: the object at the other end and when it was linked."""

    item: T
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class StageChange:
    """One entry of a deal's stage history; `from_stage_id` is None when the deal was created."""

    id: UUID
    workspace_id: UUID
    deal_id: UUID
    from_stage_id: UUID | None
    to_stage_id: UUID
    moved_by: UUID | None
    moved_at: datetime


def _name(value: Any) -> str:
    cleaned = rules.text(200)(value)
    if cleaned is None:
        raise rules.RuleBroken("required", "a deal needs a name (1 to 200 characters)")
    return cleaned


def _date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise rules.RuleBroken("invalid_date", "a date, e.g. 2026-12-31") from None


def _money(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(value: Any) -> Any:
        try:
            return rule(value)
        except InvalidInput as e:
            raise rules.RuleBroken(e.errors[0].code, e.errors[0].message) from None

    return wrapped


def _custom_fields(value: Any) -> dict[str, Any]:
    """Checked against the workspace's definitions by the use case (FieldSchema)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise rules.RuleBroken("not_an_object", "an object of values by field key")
    return dict(value)


FIELD_RULES: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "amount_minor": _money(money.amount_minor),
    "currency": _money(money.currency),
    "owner_id": lambda v: v,
    "expected_close_date": _date,
    "tags": rules.tags,
    "custom_fields": _custom_fields,
    "external_id": rules.external_id,
}


@dataclass(frozen=True, slots=True)
class DealData:
    """Every editable field of a deal (stage and pipeline move by `move_to`)."""

    name: str
    amount_minor: int | None = None
    currency: str | None = None
    owner_id: UUID | None = None
    expected_close_date: date | None = None
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> DealData:
        values = parse_fields({"name": None, **raw})
        money.check_pair(values.get("amount_minor"), values.get("currency"))
        return cls(**values)


def parse_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the fields present in `raw`; every broken field is reported."""
    return rules.apply_rules(FIELD_RULES, raw, "deal")
