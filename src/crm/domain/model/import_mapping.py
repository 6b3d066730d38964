"""How the columns of a CSV file become the fields of records: the mapping rules of imports.

A column maps to a field when the mapping names it, or when its header is a field's name
(`emails`, `custom_fields.tier`); every other column is ignored and listed. Cells are text:
list fields split on `;`, numbers and booleans of custom fields are read by the field's type,
and an empty cell leaves the field out (it never clears a stored value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm.domain.errors import DomainError, FieldError, InvalidInput
from crm.domain.model.custom_fields import FieldSchema, FieldType
from crm.domain.model.import_fields import (
    CONVERT,
    CUSTOM,
    CUSTOM_CONVERT,
    FIELDS,
    LIST_FIELDS,
    MATCH_ON,
    Convert,
    Kind,
    RowRejected,
    rounds,
)
from crm.domain.model.imports import Dedupe, ImportObject

__all__ = ["ImportPlan", "RowRejected", "Target", "batch_mode", "describe", "rounds"]


@dataclass(frozen=True, slots=True)
class Target:
    column: int
    field: str
    convert: Convert
    is_list: bool


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The validated mapping of one file: which cell goes to which field, and how."""

    object_type: ImportObject
    columns: tuple[str, ...]
    targets: tuple[Target, ...]
    mapping: dict[str, str]
    ignored_columns: tuple[str, ...]
    match_on: str | None

    @classmethod
    def build(
        cls,
        object_type: ImportObject,
        header: Sequence[str],
        mapping: Mapping[str, str | None] | None,
        schema: FieldSchema,
        dedupe: Dedupe,
        match_on: str | None,
    ) -> ImportPlan:
        """Check the mapping against the header and the fields; every mistake is reported."""
        errors: list[FieldError] = []
        given = dict(mapping or {})
        errors += [
            FieldError(_pointer(col), "unknown_column", f"the file has no column {col!r}")
            for col in given
            if col not in header
        ]
        applied = _applied(header, given, object_type, schema)
        targets = [
            _target(object_type, header, col, f, schema, errors) for col, f in applied.items()
        ]
        errors += _duplicates(applied)
        key = _match_on(object_type, dedupe, match_on, set(applied.values()), errors)
        if not applied:
            errors.append(FieldError("/mapping", "nothing_mapped", "no column maps to a field"))
        if errors:
            raise InvalidInput("The import cannot start: fix the mapping.", errors=tuple(errors))
        ignored = tuple(c for c in header if c not in applied)
        found = tuple(t for t in targets if t is not None)
        return cls(object_type, tuple(header), found, applied, ignored, key)

    def row(self, cells: Sequence[str]) -> dict[str, Any]:
        """The record fields of one row's cells (as many as the header has columns)."""
        item: dict[str, Any] = {}
        for target in self.targets:
            cell = cells[target.column].strip()
            if not cell:
                continue
            value = target.convert(cell)
            if value is None or value == []:
                continue
            _put(item, target.field, value, target.is_list)
        return item


def _applied(
    header: Sequence[str],
    given: Mapping[str, str | None],
    object_type: ImportObject,
    schema: FieldSchema,
) -> dict[str, str]:
    """Explicit entries (null ignores a column), then columns named like an untargeted field."""
    applied = {col: f for col, f in given.items() if f and col in header}
    taken = set(applied.values())
    for col in header:
        field = _field_named(object_type, col, schema)
        if col in given or field is None or field in taken:
            continue
        applied[col] = field
        taken.add(field)
    return applied


def _field_named(object_type: ImportObject, header: str, schema: FieldSchema) -> str | None:
    """The field a header names: case and spacing aside (`First Name`), or singular (`Email`)."""
    name = "_".join(header.strip().lower().replace("-", " ").split())
    name = _SINGULAR.get(name, name)
    if name.startswith(CUSTOM):
        return name if name.removeprefix(CUSTOM) in schema.fields else None
    return name if name in FIELDS[object_type] else None


_SINGULAR = {"email": "emails", "phone": "phones", "tag": "tags"}


def _target(
    object_type: ImportObject,
    header: Sequence[str],
    column: str,
    field: str,
    schema: FieldSchema,
    errors: list[FieldError],
) -> Target | None:
    index = header.index(column)
    if field.startswith(CUSTOM):
        definition = schema.fields.get(field.removeprefix(CUSTOM))
        if definition is None or definition.archived:
            why = "archived" if definition else "not defined"
            errors.append(FieldError(_pointer(column), "unknown_field", f"{field!r} is {why}"))
            return None
        kind = definition.field_type
        return Target(index, field, CUSTOM_CONVERT.get(kind, str), kind is FieldType.MULTI_SELECT)
    known = FIELDS[object_type].get(field)
    if known is None:
        errors.append(
            FieldError(_pointer(column), "unknown_field", f"{object_type} have no field {field!r}")
        )
        return None
    return Target(index, field, CONVERT[known], known is Kind.LIST)


def _duplicates(applied: Mapping[str, str]) -> list[FieldError]:
    """Two columns may feed one list field (Email 1, Email 2), never one single value."""
    seen: dict[str, str] = {}
    errors: list[FieldError] = []
    for column, field in applied.items():
        if field in seen and field not in LIST_FIELDS:
            msg = f"{field!r} is also mapped from {seen[field]!r}"
            errors.append(FieldError(_pointer(column), "duplicate_field", msg))
        seen.setdefault(field, column)
    return errors


def _match_on(
    object_type: ImportObject,
    dedupe: Dedupe,
    match_on: str | None,
    mapped: set[str],
    errors: list[FieldError],
) -> str | None:
    keys = MATCH_ON[object_type]
    if match_on is not None and match_on not in keys:
        allowed = ", ".join(keys)
        errors.append(FieldError("/match_on", "invalid_choice", f"{object_type}: one of {allowed}"))
        return None
    if dedupe is Dedupe.CREATE:
        return match_on
    key = match_on or next(iter(keys))
    if keys[key] not in mapped:
        errors.append(FieldError("/match_on", "key_not_mapped", f"no column maps to {keys[key]!r}"))
    return key


def _put(item: dict[str, Any], field: str, value: Any, is_list: bool) -> None:
    target = item
    *parents, name = field.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    if is_list:
        values = target.setdefault(name, [])
        values.extend(v for v in value if v not in values)
    else:
        target[name] = value


def _pointer(column: str) -> str:
    return "/mapping/" + column.replace("~", "~0").replace("/", "~1")


def describe(error: DomainError) -> str:
    """One line for a failed row: the error's detail and each field's message."""
    parts = [error.detail, *(f"{e.field}: {e.message}" for e in error.errors)]
    return " ".join(parts)


def batch_mode(dedupe: Dedupe) -> tuple[str, str]:
    """The batch operation and what a matched record does, for a dedupe rule."""
    return _MODES[dedupe]


_MODES = {
    Dedupe.SKIP: ("upsert", "skip"),
    Dedupe.UPDATE: ("upsert", "update"),
    Dedupe.CREATE: ("create", "update"),
}
