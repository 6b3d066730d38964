"""The workspace's tag catalogue: every tag a contact, company or deal carries is in it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput, InvalidQuery
from crm.domain.model import contact_rules
from crm.domain.model.changes import FieldChange, apply_changes
from crm.domain.model.contact_rules import RuleBroken

_COLOR = re.compile(r"^#[0-9a-f]{6}$")


@dataclass(slots=True)
class Tag:
    id: UUID
    workspace_id: UUID
    name: str
    color: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @classmethod
    def create(cls, id: UUID, workspace_id: UUID, raw: Mapping[str, Any], now: datetime) -> Tag:
        values = parse_tag(raw, creating=True)
        return cls(id, workspace_id, values["name"], values.get("color"), now, now)

    def apply(self, changes: Mapping[str, Any], now: datetime) -> dict[str, FieldChange]:
        """Returns the fields that really changed (name and/or color)."""
        return apply_changes(self, parse_tag(changes, creating=False), now)


def normalize_name(value: Any) -> str:
    """Like contact tags: whitespace collapsed, lower case, 1 to 64 printable characters."""
    if not isinstance(value, str):
        raise RuleBroken("invalid_tag", "a tag is a string of 1 to 64 characters")
    return contact_rules.tag(value)


def parse_tag(raw: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "name":
            try:
                values["name"] = normalize_name(value)
            except RuleBroken as broken:
                errors.append(FieldError("/name", broken.code, broken.message))
        elif name == "color":
            if value is None:
                values["color"] = None
            elif isinstance(value, str) and _COLOR.match(value.lower()):
                values["color"] = value.lower()
            else:
                errors.append(FieldError("/color", "invalid_color", "#rrggbb, e.g. #1f77b4"))
        else:
            errors.append(FieldError(f"/{name}", "unknown_field", "not a tag field"))
    if creating and "name" not in raw:
        errors.append(FieldError("/name", "required", "a tag needs a name"))
    if errors:
        raise InvalidInput("The tag is invalid.", errors=tuple(errors))
    return values


MAX_TAG_FILTER = 10


def parse_tag_filter(values: Sequence[str]) -> tuple[str, ...]:
    """The `?tag=` filter of list routes (repeatable; a record must carry every tag named),
    normalized like the tags records carry, so `?tag=VIP` finds `vip`."""
    if len(values) > MAX_TAG_FILTER:
        raise InvalidQuery(
            f"Filter by at most {MAX_TAG_FILTER} tags.",
            errors=(FieldError("tag", "too_many", f"at most {MAX_TAG_FILTER} tags"),),
        )
    names: dict[str, None] = {}
    for value in values:
        try:
            names.setdefault(normalize_name(value))
        except RuleBroken as broken:
            raise InvalidQuery(
                "The tag filter is invalid.",
                errors=(FieldError("tag", broken.code, broken.message),),
            ) from None
    return tuple(names)
