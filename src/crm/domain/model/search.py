"""The search filter language: raw filter groups checked against the field catalogue and the
workspace's custom field schema, turned into a typed query tree the adapters translate.

Groups are OR'ed, the filters of a group AND'ed; no group means every record. Every broken
filter is reported at its JSON pointer (`/filter_groups/0/filters/1/field`), not just the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model import search_fields as sf
from crm.domain.model.contact_rules import PhoneNormalizer, RuleBroken
from crm.domain.model.custom_fields import FieldSchema, ObjectType
from crm.domain.model.search_fields import FieldSpec, Kind, Operator
from crm.domain.model.search_values import parse_value


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field of the record (`relation` None), or of the records linked to it."""

    relation: ObjectType | None
    name: str
    kind: Kind
    custom: bool = False


@dataclass(frozen=True, slots=True)
class Condition:
    field: FieldRef
    operator: Operator
    value: Any
    """Normalized: a scalar of the field's kind, a tuple of them (in, not_in, contains on a
    set), or a bool (is_null)."""


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    kind: Kind
    descending: bool

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + self.field


@dataclass(frozen=True, slots=True)
class SearchQuery:
    object_type: ObjectType
    groups: tuple[tuple[Condition, ...], ...]
    sort: Sort
    q: str | None = None

    def relations(self) -> set[ObjectType]:
        """The associated objects the filters reach (each needs its own read permission)."""
        return {c.field.relation for g in self.groups for c in g if c.field.relation is not None}

    def fingerprint(self) -> str:
        """Short and stable: a cursor carries it, so it only works for the same query."""
        raw = repr((self.object_type, self.groups, self.sort, self.q)).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def needs_custom_fields(raw: Mapping[str, Any]) -> bool:
    """Whether any filter names a custom field (only then is the schema loaded)."""
    return any(
        isinstance(f, Mapping) and str(f.get("field", "")).startswith(sf.CUSTOM_PREFIX)
        for g in raw.get("filter_groups") or ()
        if isinstance(g, Mapping)
        for f in g.get("filters") or ()
    )


@dataclass(frozen=True, slots=True)
class SearchParser:
    """Parses one object type's searches; `schema` is needed only for custom field filters."""

    object_type: ObjectType
    normalize_phone: PhoneNormalizer
    schema: FieldSchema | None = None

    def parse(self, raw: Mapping[str, Any], q: str | None = None) -> SearchQuery:
        errors: list[FieldError] = []
        groups = raw.get("filter_groups") or ()
        _check_limits(groups, errors)
        parsed = tuple(
            tuple(
                c
                for j, f in enumerate(g.get("filters") or ())
                if (c := self._condition(f, f"/filter_groups/{i}/filters/{j}", errors))
            )
            for i, g in enumerate(groups[: sf.MAX_GROUPS])
        )
        q = _q(q, errors)
        sort = self._sort(raw.get("sort"), q, errors)
        if errors or sort is None:
            raise InvalidInput("The search is invalid.", errors=tuple(errors))
        return SearchQuery(self.object_type, parsed, sort, q)

    def _condition(
        self, raw: Mapping[str, Any], at: str, errors: list[FieldError]
    ) -> Condition | None:
        name = raw.get("field")
        ref = self._field(name if isinstance(name, str) else "", at, errors)
        try:
            operator = Operator(str(raw.get("operator")))
        except ValueError:
            allowed = ", ".join(o.value for o in Operator)
            message = f"unknown operator {raw.get('operator')!r}; one of: {allowed}"
            errors.append(FieldError(f"{at}/operator", "invalid_search_operator", message))
            return None
        if ref is None:
            return None
        spec = ref[1]
        if operator not in sf.OPERATORS[spec.kind]:
            allowed = ", ".join(o.value for o in Operator if o in sf.OPERATORS[spec.kind])
            message = f"{operator.value} does not apply to {name} ({spec.kind}); use: {allowed}"
            errors.append(FieldError(f"{at}/operator", "invalid_search_operator", message))
            return None
        try:
            value = parse_value(spec, operator, raw.get("value"), self.normalize_phone)
        except RuleBroken as broken:
            message = f"{name} {operator.value}: {broken.message}"
            errors.append(FieldError(f"{at}/value", "invalid_search_value", message))
            return None
        return Condition(ref[0], operator, value)

    def _field(
        self, name: str, at: str, errors: list[FieldError]
    ) -> tuple[FieldRef, FieldSpec] | None:
        found = self._lookup(name)
        if isinstance(found, str):
            errors.append(FieldError(f"{at}/field", "unknown_search_field", found))
            return None
        return found

    def _lookup(self, name: str) -> tuple[FieldRef, FieldSpec] | str:
        kind = self.object_type.value
        if name.startswith(sf.CUSTOM_PREFIX):
            return self._custom(name.removeprefix(sf.CUSTOM_PREFIX))
        relation_name, dot, rest = name.partition(".")
        if dot:
            for other in sf.ASSOCIATIONS[self.object_type]:
                if sf.RELATION_NAMES[other] == relation_name and rest in sf.FIELDS[other]:
                    spec = sf.FIELDS[other][rest]
                    return FieldRef(other, rest, spec.kind), spec
            return f"{name!r} is not a field of a record linked to a {kind}"
        own = sf.FIELDS[self.object_type].get(name)
        if own is None:
            return f"{name!r} is not a searchable {kind} field"
        return FieldRef(None, name, own.kind), own

    def _custom(self, key: str) -> tuple[FieldRef, FieldSpec] | str:
        definition = None if self.schema is None else self.schema.fields.get(key)
        if definition is None or definition.archived:
            return f"no active {self.object_type.value} custom field {key!r}"
        spec = sf.CUSTOM_KINDS[definition.field_type]
        return FieldRef(None, key, spec.kind, custom=True), spec

    def _sort(self, raw: Any, q: str | None, errors: list[FieldError]) -> Sort | None:
        if raw is None and q is not None:
            return Sort(sf.RELEVANCE, Kind.NUMBER, descending=True)
        text = "-created_at" if raw is None else raw
        name = text.removeprefix("-") if isinstance(text, str) else ""
        if name not in sf.SORTS[self.object_type]:
            allowed = ", ".join(sf.SORTS[self.object_type])
            message = f"sort on one of {allowed}, with - for descending"
            errors.append(FieldError("/sort", "invalid_sort", message))
            return None
        kind = sf.FIELDS[self.object_type][name].kind
        return Sort(name, kind, str(text).startswith("-"))


def _check_limits(groups: Sequence[Any], errors: list[FieldError]) -> None:
    def broken(at: str, message: str) -> None:
        errors.append(FieldError(at, "search_too_large", message))

    if len(groups) > sf.MAX_GROUPS:
        broken("/filter_groups", f"at most {sf.MAX_GROUPS} filter groups")
    total = 0
    for i, group in enumerate(groups):
        count = len(group.get("filters") or ())
        total += count
        if count > sf.MAX_FILTERS_PER_GROUP:
            broken(f"/filter_groups/{i}/filters", f"at most {sf.MAX_FILTERS_PER_GROUP} per group")
    if total > sf.MAX_FILTERS:
        broken("/filter_groups", f"at most {sf.MAX_FILTERS} filters in all")


def _q(q: str | None, errors: list[FieldError]) -> str | None:
    if q is None:
        return None
    cleaned = " ".join(q.split())
    if not 1 <= len(cleaned) <= sf.MAX_Q or "\x00" in cleaned:
        message = f"q is 1 to {sf.MAX_Q} characters (not only spaces, no NUL)"
        errors.append(FieldError("/q", "invalid_search_value", message))
        return None
    return cleaned
