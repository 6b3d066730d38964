"""Custom field definitions and the schema that checks record values against them.

A workspace defines fields per object type (contact, company, deal). Every write of a record's
`custom_fields` goes through `FieldSchema.validate`; every read shows `FieldSchema.visible`
(values of archived fields are kept in storage but hidden until the field is unarchived).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model import contact_rules
from crm.domain.model.contact_rules import (
    MAX_CUSTOM_TEXT,
    MAX_SAFE_INTEGER,
    JsonScalar,
    PhoneNormalizer,
    RuleBroken,
)
from crm.domain.model.instant import RANGE, in_utc
from crm.domain.model.text import has_control_characters

FieldValue = str | int | float | bool | list[str]
"""A stored custom field value (multi_select values are lists of option values)."""

MAX_FIELDS_PER_OBJECT = 100
MAX_OPTIONS = 200
MAX_LABEL = 200
MAX_OPTION_VALUE = 100
MAX_URL = 2048

KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class ObjectType(enum.StrEnum):
    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"


class FieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    URL = "url"
    EMAIL = "email"
    PHONE = "phone"
    SINGLE_SELECT = "single_select"
    MULTI_SELECT = "multi_select"

    @property
    def has_options(self) -> bool:
        return self in (FieldType.SINGLE_SELECT, FieldType.MULTI_SELECT)


@dataclass(frozen=True, slots=True)
class SelectOption:
    value: str
    label: str


@dataclass(slots=True)
class CustomField:
    """A field definition. `key` and `field_type` never change after creation; `label`,
    `options` and archiving do. Removing an option that records still use is allowed: those
    values stay stored and readable, but new writes must use a current option."""

    id: UUID
    workspace_id: UUID
    object_type: ObjectType
    key: str
    label: str
    field_type: FieldType
    options: tuple[SelectOption, ...]
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @classmethod
    def create(
        cls, id: UUID, workspace_id: UUID, raw: Mapping[str, Any], now: datetime
    ) -> CustomField:
        """Validate a definition (object_type, key, label, field_type, options)."""
        errors: list[FieldError] = []
        known = {"object_type", "key", "label", "field_type", "options"}
        errors += [
            FieldError(f"/{k}", "unknown_field", "not a custom field attribute")
            for k in raw
            if k not in known
        ]
        object_type = _choice(raw.get("object_type"), ObjectType, "/object_type", errors)
        field_type = _choice(raw.get("field_type"), FieldType, "/field_type", errors)
        key = raw.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            errors.append(
                FieldError("/key", "invalid_key", "snake_case: a-z first, then a-z, 0-9, _; 64 max")
            )
        label = _label(raw.get("label"), "/label", errors)
        options: tuple[SelectOption, ...] = ()
        if field_type is not None:
            options = _options(field_type, raw.get("options"), errors)
        if errors:
            raise InvalidInput("The custom field definition is invalid.", errors=tuple(errors))
        return cls(
            id=id,
            workspace_id=workspace_id,
            object_type=ObjectType(str(object_type)),
            key=str(key),
            label=str(label),
            field_type=FieldType(str(field_type)),
            options=options,
            archived_at=None,
            created_at=now,
            updated_at=now,
            version=1,
        )

    def apply(self, changes: Mapping[str, Any], now: datetime) -> bool:
        """Change `label`, `options` and/or `archived` (true archives, false unarchives).
        `key`, `field_type` and `object_type` are immutable: naming them is 422 unless the
        value is unchanged. Returns whether anything changed."""
        errors: list[FieldError] = []
        label, options, archived_at = self.label, self.options, self.archived_at
        for name, value in changes.items():
            if name in ("key", "field_type", "object_type"):
                if value != str(getattr(self, name)):
                    errors.append(FieldError(f"/{name}", "immutable", f"{name} cannot change"))
            elif name == "label":
                label = _label(value, "/label", errors) or label
            elif name == "options":
                options = _options(self.field_type, value, errors)
            elif name == "archived":
                archived_at = self._archived_at(value, now, errors)
            else:
                errors.append(FieldError(f"/{name}", "unknown_field", "cannot be changed"))
        if errors:
            raise InvalidInput("The custom field change is invalid.", errors=tuple(errors))
        if (label, options, archived_at) == (self.label, self.options, self.archived_at):
            return False
        self.label, self.options, self.archived_at = label, options, archived_at
        self.updated_at = now
        self.version += 1
        return True

    def _archived_at(self, value: Any, now: datetime, errors: list[FieldError]) -> datetime | None:
        if not isinstance(value, bool):
            errors.append(FieldError("/archived", "wrong_type", "true or false"))
        elif value != self.archived:
            return now if value else None
        return self.archived_at

    def check(self, value: Any, normalize_phone: PhoneNormalizer | None = None) -> FieldValue:
        """Normalize one non-null value for this field or raise RuleBroken."""
        return _CHECKS[self.field_type](self, value, normalize_phone)


class FieldSchema:
    """The definitions of one object type in one workspace, archived ones included."""

    def __init__(self, object_type: ObjectType, fields: Iterable[CustomField]) -> None:
        self.object_type = object_type
        self.fields = {f.key: f for f in fields if f.object_type == object_type}

    def validate(
        self, raw: Mapping[str, Any] | None, normalize_phone: PhoneNormalizer | None = None
    ) -> dict[str, JsonScalar]:
        """Check values against the definitions; every broken key is reported at
        `/custom_fields/<key>` (codes: unknown_field, field_archived, wrong_type,
        unknown_option, duplicate_option, too_long, invalid_character, out_of_range,
        invalid_date, invalid_datetime, invalid_url, invalid_email, invalid_phone).
        A null value is kept as None: it clears the key (see `merge`). Without a phone
        normalizer, phone values must already be E.164 (e.g. +14155550123)."""
        result: dict[str, JsonScalar] = {}
        errors: list[FieldError] = []
        for key, value in (raw or {}).items():
            pointer = f"/custom_fields/{key}"
            definition = self.fields.get(key)
            if definition is None:
                errors.append(
                    FieldError(
                        pointer, "unknown_field", f"no {self.object_type} custom field {key!r}"
                    )
                )
            elif definition.archived:
                errors.append(
                    FieldError(pointer, "field_archived", f"the field {key!r} is archived")
                )
            elif value is None:
                result[key] = None
            else:
                try:
                    result[key] = definition.check(value, normalize_phone)
                except RuleBroken as broken:
                    errors.append(FieldError(pointer + broken.at, broken.code, broken.message))
        if errors:
            raise InvalidInput("Some custom field values are invalid.", errors=tuple(errors))
        return result

    def visible(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Stored values without those of archived fields (undefined keys stay visible)."""
        return {
            k: v for k, v in values.items() if (f := self.fields.get(k)) is None or not f.archived
        }


def merge(old: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply validated changes to stored values: null clears a key, other keys are kept."""
    return {k: v for k, v in {**old, **changes}.items() if v is not None}


# --- value rules ----------------------------------------------------------------------------


def _text(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "a string")
    if len(value) > MAX_CUSTOM_TEXT:
        raise RuleBroken("too_long", f"at most {MAX_CUSTOM_TEXT} characters")
    if "\x00" in value:
        raise RuleBroken("invalid_character", "NUL characters are not allowed")
    return value


def _number(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleBroken("wrong_type", "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise RuleBroken("out_of_range", "a finite number (JSON has no NaN or Infinity)")
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise RuleBroken("out_of_range", f"integers are at most {MAX_SAFE_INTEGER} in magnitude")
    return value


def _boolean(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, bool):
        raise RuleBroken("wrong_type", "true or false")
    return value


def _date(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "a date string, YYYY-MM-DD")
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise RuleBroken("invalid_date", f"{value!r} is not a date (YYYY-MM-DD)") from None


def _datetime(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "an RFC 3339 date-time string")
    try:
        if not _DATETIME.match(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise RuleBroken(
            "invalid_datetime",
            f"{value!r} is not an RFC 3339 date-time with an offset, e.g. 2026-01-31T09:30:00Z",
        ) from None
    in_range = in_utc(parsed)
    if in_range is None:
        raise RuleBroken("invalid_datetime", f"{value!r} is out of range: a time {RANGE}")
    return in_range.isoformat().replace("+00:00", "Z")


def _url(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "a URL string")
    cleaned = value.strip()
    bad = len(cleaned) > MAX_URL or has_control_characters(cleaned) or " " in cleaned
    try:
        parts = urlsplit(cleaned)
        host = parts.hostname
    except ValueError:
        bad, parts, host = True, None, None
    if bad or parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise RuleBroken("invalid_url", f"{value!r} is not an http or https URL")
    return cleaned


def _email(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "an email address string")
    return contact_rules.email(value)


def _phone(field: CustomField, value: Any, normalize: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "a phone number string")
    e164 = normalize(value) if normalize else "".join(value.split()).replace("-", "")
    if e164 is None or not _E164.match(e164):
        raise RuleBroken(
            "invalid_phone",
            f"{value!r} is not a phone number; use international format, e.g. +14155550123",
        )
    return e164


def _single(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, str):
        raise RuleBroken("wrong_type", "one option value (a string)")
    _known_option(field, value)
    return value


def _multi(field: CustomField, value: Any, _: PhoneNormalizer | None) -> FieldValue:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleBroken("wrong_type", "a list of option values (strings)")
    if len(set(value)) != len(value):
        raise RuleBroken("duplicate_option", "each option at most once")
    for item in value:
        _known_option(field, item)
    return list(value)


def _known_option(field: CustomField, value: str) -> None:
    allowed = [o.value for o in field.options]
    if value not in allowed:
        raise RuleBroken(
            "unknown_option", f"{value!r} is not an option; one of: {', '.join(allowed)}"
        )


_CHECKS = {
    FieldType.TEXT: _text,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.URL: _url,
    FieldType.EMAIL: _email,
    FieldType.PHONE: _phone,
    FieldType.SINGLE_SELECT: _single,
    FieldType.MULTI_SELECT: _multi,
}


# --- definition rules -----------------------------------------------------------------------


def _choice(
    value: Any, kind: type[enum.StrEnum], pointer: str, errors: list[FieldError]
) -> str | None:
    try:
        return str(kind(value))
    except ValueError:
        allowed = ", ".join(str(k) for k in kind)
        errors.append(FieldError(pointer, "invalid_choice", f"one of: {allowed}"))
        return None


def _label(value: Any, pointer: str, errors: list[FieldError]) -> str | None:
    cleaned = " ".join(value.split()) if isinstance(value, str) else ""
    if not 1 <= len(cleaned) <= MAX_LABEL or has_control_characters(cleaned):
        errors.append(
            FieldError(pointer, "invalid_label", f"1 to {MAX_LABEL} printable characters")
        )
        return None
    return cleaned


def _options(field_type: str, raw: Any, errors: list[FieldError]) -> tuple[SelectOption, ...]:
    if not FieldType(field_type).has_options:
        if raw:
            errors.append(
                FieldError("/options", "options_not_allowed", "only select fields have options")
            )
        return ()
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_OPTIONS:
        errors.append(FieldError("/options", "options_required", f"1 to {MAX_OPTIONS} options"))
        return ()
    result: list[SelectOption] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        pointer = f"/options/{index}"
        value = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= MAX_OPTION_VALUE:
            errors.append(
                FieldError(pointer, "invalid_option", f"value is 1 to {MAX_OPTION_VALUE} chars")
            )
            continue
        value = value.strip()
        if has_control_characters(value) or value in seen:
            errors.append(FieldError(pointer, "invalid_option", "values are unique, printable"))
            continue
        seen.add(value)
        label_raw = item.get("label") if isinstance(item, Mapping) else None
        label = _label(label_raw, pointer + "/label", errors) if label_raw is not None else value
        result.append(SelectOption(value, label or value))
    return tuple(result)
