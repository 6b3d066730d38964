"""Evaluating a search's query tree on domain objects, exactly as the SQL translation does."""

from __future__ import annotations

import enum
import operator as op
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from crm.domain.model.search import Condition
from crm.domain.model.search_fields import Kind, Operator

_LISTS = (Kind.TEXT_LIST, Kind.SET)
_ATTRIBUTES = {"email": "emails", "phone": "phones"}
_COMPARE: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.LT: op.lt,
    Operator.LTE: op.le,
    Operator.GT: op.gt,
    Operator.GTE: op.ge,
}
_PARTIAL: dict[Operator, Callable[[str, str], bool]] = {
    Operator.CONTAINS: lambda v, x: x in v,
    Operator.STARTS_WITH: lambda v, x: v.startswith(x),
    Operator.ENDS_WITH: lambda v, x: v.endswith(x),
}


def field_value(record: Any, name: str) -> Any:
    """A built-in field as the search compares it (enums by value, lists as tuples)."""
    value = getattr(record, _ATTRIBUTES.get(name, name))
    return value.value if isinstance(value, enum.Enum) else value


def custom_value(record: Any, key: str, kind: Kind) -> Any:
    """A custom field value of the kind its definition says; anything else is no value."""
    raw = record.custom_fields.get(key)
    try:
        return _CUSTOM[kind](raw)
    except (TypeError, ValueError, AttributeError):
        return None


def _number(raw: Any) -> Any:
    return raw if isinstance(raw, int | float) and not isinstance(raw, bool) else None


_CUSTOM: dict[Kind, Callable[[Any], Any]] = {
    Kind.TEXT: lambda raw: raw if isinstance(raw, str) else None,
    Kind.ENUM: lambda raw: raw if isinstance(raw, str) else None,
    Kind.NUMBER: _number,
    Kind.BOOLEAN: lambda raw: raw if isinstance(raw, bool) else None,
    Kind.DATE: lambda raw: date.fromisoformat(raw),
    Kind.DATETIME: lambda raw: datetime.fromisoformat(raw.replace("Z", "+00:00")),
    Kind.SET: lambda raw: tuple(raw) if isinstance(raw, list) else (),
}


def holds(condition: Condition, value: Any) -> bool:
    if condition.field.kind in _LISTS:
        return _holds_list(condition, tuple(value or ()))
    return _holds_scalar(condition, value)


def _holds_list(c: Condition, items: tuple[Any, ...]) -> bool:
    match c.operator:
        case Operator.IS_NULL:
            return (not items) is c.value
        case Operator.EQ:
            return bool(c.value in items)
        case Operator.NEQ:
            return bool(c.value not in items)
        case Operator.IN:
            return any(i in c.value for i in items)
        case Operator.NOT_IN:
            return not any(i in c.value for i in items)
        case Operator.CONTAINS if c.field.kind is Kind.SET:
            return all(v in items for v in c.value)
    return any(_PARTIAL[c.operator](str(i).lower(), c.value) for i in items)


def _holds_scalar(c: Condition, value: Any) -> bool:
    if c.operator is Operator.IS_NULL:
        return (value is None) is c.value
    if c.operator in (Operator.NEQ, Operator.NOT_IN) and value is None:
        return True
    if value is None:
        return False
    match c.operator:
        case Operator.EQ:
            return bool(value == c.value)
        case Operator.NEQ:
            return bool(value != c.value)
        case Operator.IN:
            return bool(value in c.value)
        case Operator.NOT_IN:
            return bool(value not in c.value)
        case Operator.LT | Operator.LTE | Operator.GT | Operator.GTE:
            return bool(_COMPARE[c.operator](value, c.value))
    return _PARTIAL[c.operator](str(value).lower(), c.value)
