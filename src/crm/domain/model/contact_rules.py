"""Field rules for contacts: each normalizes one raw value or says precisely what is wrong."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.text import has_control_characters

JsonScalar = str | int | float | bool | list[str] | None
"""A custom field value: a JSON scalar, or a list of strings (multi_select). The shape checks
here run first; `custom_fields.FieldSchema.validate` then checks each value against its field's
definition (type, options, archived)."""

MAX_EMAILS = 10
MAX_PHONES = 10
MAX_TAGS = 50
MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_TEXT = 10_000
MAX_CUSTOM_LIST = 200

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Control characters have no place in names, titles or tags (whitespace is collapsed before
# the check); free text in custom fields keeps tabs and newlines but never NUL.
# JSON numbers every client reads exactly (JavaScript's safe integers).
MAX_SAFE_INTEGER = 2**53 - 1


class LifecycleStage(enum.StrEnum):
    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MARKETING_QUALIFIED_LEAD = "marketing_qualified_lead"
    SALES_QUALIFIED_LEAD = "sales_qualified_lead"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"


class RuleBroken(ValueError):
    """One value breaks one rule; `at` extends the field pointer (e.g. "/2" in a list)."""

    def __init__(self, code: str, message: str, at: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = at


PhoneNormalizer = Callable[[str], str | None]


def text(max_len: int) -> Callable[[Any], str | None]:
    def rule(value: Any) -> str | None:
        if value is None:
            return None
        cleaned = " ".join(str(value).split())
        if len(cleaned) > max_len:
            raise RuleBroken("too_long", f"at most {max_len} characters")
        _printable(cleaned)
        return cleaned or None

    return rule


def email(value: str) -> str:
    cleaned = value.strip().lower()
    if len(cleaned) > 254 or not _EMAIL.match(cleaned) or has_control_characters(cleaned):
        raise RuleBroken("invalid_email", f"{value!r} is not an email address")
    return cleaned


def emails(values: Any) -> tuple[str, ...]:
    return _unique_list(values or (), MAX_EMAILS, email)


def phones(normalize: PhoneNormalizer) -> Callable[[Any], tuple[str, ...]]:
    def one(value: str) -> str:
        e164 = normalize(value)
        if e164 is None or not _E164.match(e164):
            raise RuleBroken(
                "invalid_phone",
                f"{value!r} is not a phone number; use international format, e.g. +14155550123",
            )
        return e164

    return lambda values: _unique_list(values or (), MAX_PHONES, one)


def tag(value: str) -> str:
    cleaned = " ".join(value.split()).lower()
    if not 1 <= len(cleaned) <= 64:
        raise RuleBroken("invalid_tag", "a tag is 1 to 64 characters")
    _printable(cleaned)
    return cleaned


def tags(values: Any) -> tuple[str, ...]:
    return _unique_list(values or (), MAX_TAGS, tag)


def lifecycle_stage(value: Any) -> LifecycleStage:
    try:
        return LifecycleStage(value)
    except ValueError:
        allowed = ", ".join(s.value for s in LifecycleStage)
        raise RuleBroken("invalid_choice", f"one of: {allowed}") from None


def custom_fields(values: Mapping[str, Any] | None) -> dict[str, JsonScalar]:
    result: dict[str, JsonScalar] = {}
    for key, value in (values or {}).items():
        result[key] = custom_value(key, value)
    if len(result) > MAX_CUSTOM_FIELDS:
        raise RuleBroken("too_many", f"at most {MAX_CUSTOM_FIELDS} custom fields")
    return result


def custom_value(key: str, value: Any) -> JsonScalar:
    if not _CUSTOM_KEY.match(key):
        raise RuleBroken("invalid_key", "keys are snake_case: a-z, 0-9, _; 64 at most", f"/{key}")
    if isinstance(value, str) and len(value) > MAX_CUSTOM_TEXT:
        raise RuleBroken("too_long", f"at most {MAX_CUSTOM_TEXT} characters", f"/{key}")
    if isinstance(value, str) and "\x00" in value:
        raise RuleBroken("invalid_character", "NUL characters are not allowed", f"/{key}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RuleBroken("out_of_range", "a finite number (JSON has no NaN or Infinity)", f"/{key}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise RuleBroken(
            "out_of_range", f"integers are at most {MAX_SAFE_INTEGER} in magnitude", f"/{key}"
        )
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        for item in value:
            custom_value(key, item)
        if len(value) > MAX_CUSTOM_LIST:
            raise RuleBroken("too_many", f"at most {MAX_CUSTOM_LIST} items", f"/{key}")
        return list(value)
    raise RuleBroken(
        "not_a_scalar", "a string, number, boolean, list of strings or null", f"/{key}"
    )


def _printable(value: str) -> None:
    if has_control_characters(value):
        raise RuleBroken("invalid_character", "control characters are not allowed")


def _unique_list(values: Any, limit: int, rule: Callable[[str], str]) -> tuple[str, ...]:
    if len(values) > limit:
        raise RuleBroken("too_many", f"at most {limit} items")
    seen: dict[str, None] = {}
    for index, raw in enumerate(values):
        try:
            seen.setdefault(rule(raw))
        except RuleBroken as broken:
            raise RuleBroken(broken.code, broken.message, f"/{index}") from None
    return tuple(seen)


def apply_rules(
    table: Mapping[str, Callable[[Any], Any]], raw: Mapping[str, Any], noun: str
) -> dict[str, Any]:
    """Run each field of `raw` through its rule in `table`; every broken or unknown field is
    reported (as one InvalidInput naming the `noun`, e.g. "contact"), not just the first."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in raw.items():
        rule = table.get(name)
        if rule is None:
            errors.append(FieldError(f"/{name}", "unknown_field", f"not a {noun} field"))
            continue
        try:
            values[name] = rule(value)
        except RuleBroken as broken:
            errors.append(FieldError(f"/{name}{broken.at}", broken.code, broken.message))
    if errors:
        raise InvalidInput(f"Some {noun} fields are invalid.", errors=tuple(errors))
    return values


MAX_EXTERNAL_ID = 255


def external_id(value: Any) -> str | None:
    """Another system's id for the record: trimmed (inner spaces kept), empty means none."""
    if value is None:
        return None
    cleaned = str(value).strip()
    if len(cleaned) > MAX_EXTERNAL_ID:
        raise RuleBroken("too_long", f"at most {MAX_EXTERNAL_ID} characters")
    _printable(cleaned)
    return cleaned or None
