"""Filter values: typed by the field's kind and normalized the way writes store values."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from crm.domain.model import search_fields as sf
from crm.domain.model.company_rules import normalize_domain
from crm.domain.model.contact_rules import PhoneNormalizer, RuleBroken
from crm.domain.model.instant import in_utc
from crm.domain.model.search_fields import FieldSpec, Kind, Normal, Operator
from crm.domain.model.tags import normalize_name

_PARTIAL = frozenset({Operator.CONTAINS, Operator.STARTS_WITH, Operator.ENDS_WITH})
_MANY = frozenset({Operator.IN, Operator.NOT_IN})


def parse_value(spec: FieldSpec, operator: Operator, raw: Any, phone: PhoneNormalizer) -> Any:
    """The filter's value, typed and normalized for the field's kind; RuleBroken if not."""
    if operator is Operator.IS_NULL:
        if not isinstance(raw, bool):
            raise RuleBroken("wrong_type", "the value is true or false")
        return raw
    many = operator in _MANY or (spec.kind is Kind.SET and operator is Operator.CONTAINS)
    if not many:
        return _scalar(spec, raw, phone, partial=operator in _PARTIAL)
    items = [raw] if operator is Operator.CONTAINS and isinstance(raw, str) else raw
    if not isinstance(items, list) or not 1 <= len(items) <= sf.MAX_VALUES:
        raise RuleBroken("wrong_type", f"the value is a list of 1 to {sf.MAX_VALUES} values")
    return tuple(dict.fromkeys(_scalar(spec, item, phone, partial=False) for item in items))


def _scalar(spec: FieldSpec, raw: Any, phone: PhoneNormalizer, *, partial: bool) -> Any:
    if spec.kind in (Kind.TEXT, Kind.TEXT_LIST, Kind.SET, Kind.ENUM):
        return _text(spec, raw, phone, partial)
    return _PARSERS[spec.kind](raw)


def _text(spec: FieldSpec, raw: Any, phone: PhoneNormalizer, partial: bool) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= sf.MAX_TEXT:
        raise RuleBroken("wrong_type", f"the value is a string of 1 to {sf.MAX_TEXT} characters")
    if "\x00" in raw:
        raise RuleBroken("wrong_type", "the value has a NUL character")
    if spec.choices and raw not in spec.choices:
        raise RuleBroken("wrong_type", f"{raw!r} is not one of: {', '.join(spec.choices)}")
    if partial:
        # Part of a value cannot be normalized whole: compared without case, phones by digits.
        if spec.normal is Normal.PHONE:
            return "".join(ch for ch in raw if ch.isdigit() or ch == "+")
        return raw.lower()
    return _NORMALIZERS[spec.normal](raw, phone)


def _normal_phone(raw: str, phone: PhoneNormalizer) -> str:
    found = phone(raw)
    if found is None:
        raise RuleBroken("wrong_type", f"{raw!r} is not a phone number, e.g. +14155550123")
    return found


def _normal_domain(raw: str, _: PhoneNormalizer) -> str:
    found = normalize_domain(raw)
    if found is None:
        raise RuleBroken("wrong_type", f"{raw!r} is not a domain name, e.g. acme.com")
    return found


_NORMALIZERS: dict[Normal, Callable[[str, PhoneNormalizer], str]] = {
    Normal.NONE: lambda raw, _: raw,
    Normal.EMAIL: lambda raw, _: raw.strip().lower(),
    Normal.PHONE: _normal_phone,
    Normal.DOMAIN: _normal_domain,
    Normal.UPPER: lambda raw, _: raw.strip().upper(),
    Normal.TAG: lambda raw, _: normalize_name(raw),
}


def _number(raw: Any) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise RuleBroken("wrong_type", "the value is a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise RuleBroken("wrong_type", "the value is a finite number")
    return raw


def _date(raw: Any) -> date:
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else _no()
    except ValueError:
        raise RuleBroken("wrong_type", "the value is a date, YYYY-MM-DD") from None


def _datetime(raw: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        in_range = in_utc(parsed)
        if in_range is None:
            raise ValueError(raw)
        return in_range
    except (AttributeError, ValueError, OverflowError):
        raise RuleBroken(
            "wrong_type", "the value is an RFC 3339 date-time with an offset"
        ) from None


def _uuid(raw: Any) -> UUID:
    try:
        return UUID(raw) if isinstance(raw, str) else _no()
    except ValueError:
        raise RuleBroken("wrong_type", "the value is a UUID") from None


def _boolean(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise RuleBroken("wrong_type", "the value is true or false")
    return raw


def _no() -> Any:
    raise ValueError


_PARSERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.NUMBER: _number,
    Kind.DATE: _date,
    Kind.DATETIME: _datetime,
    Kind.UUID: _uuid,
    Kind.BOOLEAN: _boolean,
}
