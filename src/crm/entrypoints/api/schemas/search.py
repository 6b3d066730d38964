"""Search request schemas: filter groups (the filter language is in `domain/model/search.py`)."""

from __future__ import annotations

import enum
import inspect
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from crm.domain.model import search_fields as sf
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.search_fields import Operator


class SearchOperator(enum.StrEnum):
    """How a filter compares (which apply depends on the field's kind)."""

    EQ = "eq"
    NEQ = "neq"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    IS_NULL = "is_null"


# Any JSON value: the field's kind decides (checked by the server, 422 naming the filter).
# No `type` on purpose: SDK generators turn a union of primitives into an empty class.
FilterValue = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": (
                "A string, number, boolean or a list of them, as the field and operator "
                "need: a list for `in` and `not_in` (1 to 100 values), true or false for "
                "`is_null`, a string of 1 to 200 characters for text, an RFC 3339 date-time "
                "for `created_at`, YYYY-MM-DD for dates, a UUID for ids"
            )
        }
    ),
]


class Filter(BaseModel):
    """One condition on one field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"field": "company.industry", "operator": "eq", "value": "Software"}]
        },
    )
    field: str = Field(
        max_length=100,
        description=(
            "A built-in field (`last_name`), a custom field (`custom_fields.plan`), or a field "
            "of a linked record (`company.industry`, `contact.email`)"
        ),
    )
    operator: SearchOperator
    value: FilterValue = None


class FilterGroup(BaseModel):
    """Filters that must all hold (AND)."""

    model_config = ConfigDict(extra="forbid")
    filters: list[Filter] = Field(max_length=sf.MAX_FILTERS_PER_GROUP)


Groups = Annotated[
    list[FilterGroup],
    Field(
        max_length=sf.MAX_GROUPS,
        description="Groups of which any may hold (OR); none means every record",
    ),
]
_EXAMPLE: dict[str, Any] = {
    "filter_groups": [
        {"filters": [{"field": "company.industry", "operator": "eq", "value": "Software"}]},
        {"filters": [{"field": "email", "operator": "ends_with", "value": "@acme.com"}]},
    ],
    "sort": "-created_at",
}


# Spelled out for type checkers; a unit test holds them equal to `search_fields.SORTS`.
ContactSearchSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "last_name", "-last_name",
    "first_name", "-first_name",
]  # fmt: skip
CompanySearchSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "name", "-name"
]
DealSearchSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "name", "-name", "amount_minor",
    "-amount_minor", "expected_close_date", "-expected_close_date", "closed_at", "-closed_at",
]  # fmt: skip
_SORT = (
    "Field to sort on, `-` for descending; ties by id; records without a value last. Left "
    "out: `-created_at`, or with `q` the closest matches first (relevance)"
)


class ContactSearch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})
    filter_groups: Groups = []
    sort: ContactSearchSort | None = Field(None, description=_SORT)


class CompanySearch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "filter_groups": [
                        {
                            "filters": [
                                {
                                    "field": "contact.email",
                                    "operator": "ends_with",
                                    "value": "@acme.com",
                                }
                            ]
                        }
                    ],
                    "sort": "name",
                }
            ]
        },
    )
    filter_groups: Groups = []
    sort: CompanySearchSort | None = Field(None, description=_SORT)


class DealSearch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "filter_groups": [
                        {
                            "filters": [
                                {
                                    "field": "contact.email",
                                    "operator": "ends_with",
                                    "value": "@acme.com",
                                },
                                {"field": "status", "operator": "eq", "value": "open"},
                            ]
                        }
                    ],
                    "sort": "-amount_minor",
                }
            ]
        },
    )
    filter_groups: Groups = []
    sort: DealSearchSort | None = Field(None, description=_SORT)


SearchBody = ContactSearch | CompanySearch | DealSearch
Q_TEXT = (
    "Fuzzy text: records whose names (contacts: also emails and phones; companies: also the "
    "domain) contain it, case-insensitively, or hold a word close to it (pg_trgm word "
    "similarity of at least 0.6: `Alexandar` finds Alexandra). The sort stays the one asked."
)
_RELATION = {ObjectType.CONTACT: "contact", ObjectType.COMPANY: "company"}
_KIND_NOTES = {
    sf.Kind.TEXT_LIST: " (emails, phones: holds when it holds for any of them)",
    sf.Kind.ENUM: " (one of fixed values)",
    sf.Kind.SET: " (tags, multi_select)",
}


def _kinds() -> str:
    return "\n".join(
        f"- {kind}{_KIND_NOTES.get(kind, '')}: "
        + ", ".join(o.value for o in Operator if o in sf.OPERATORS[kind])
        for kind in sf.Kind
    )


def _fields(object_type: ObjectType) -> str:
    own = ", ".join(f"`{n}` ({spec.kind})" for n, spec in sf.FIELDS[object_type].items())
    linked = "; ".join(
        f"`{_RELATION[o]}.<field>` (any linked {o.value}: {', '.join(sf.FIELDS[o])})"
        for o in sf.ASSOCIATIONS[object_type]
    )
    return f"Fields: {own}; `custom_fields.<key>` (active definitions, typed by them); {linked}."


def describe(doc: str | None, object_name: str) -> str:
    """The operation description: the use case's rule, then the filter language."""
    object_type = ObjectType(object_name)
    sorts = ", ".join(sf.SORTS[object_type])
    return f"""{inspect.cleandoc(doc or "")}

{_fields(object_type)}

Operators by kind of field:
{_kinds()}

`eq`, `in` compare exactly (emails, domains, phones, tags and currencies are first normalized
as writes store them); `contains`, `starts_with`, `ends_with` ignore case (`email ends_with
"@acme.com"`). `neq` and `not_in` also match records without a value. On lists (emails,
phones) a condition holds when it holds for any element, `neq`/`not_in` when no element
matches; on tags and multi_select `eq` means carries it, `in` any of, `not_in` none of,
`contains` all of (a string or a list); `is_null: true` means empty. A filter on a linked
record holds when some linked record matches it (each filter on its own).

Limits: {sf.MAX_GROUPS} groups, {sf.MAX_FILTERS_PER_GROUP} filters per group,
{sf.MAX_FILTERS} filters in all, {sf.MAX_VALUES} values per `in`/`not_in`, text values of
1 to {sf.MAX_TEXT} characters, `q` of 1 to {sf.MAX_Q}; over a limit is 422
`validation_failed` naming it (`errors[].code` `search_too_large`). An unknown field or
operator, an operator that does not apply to the field, or a value of the wrong type is
422 with `errors[].field` the pointer to it (`/filter_groups/0/filters/1/field`) and `code`
`unknown_search_field`, `invalid_search_operator` or `invalid_search_value`.

Sort on {sorts} (`-` descending); ties by id; records without a value come last. With
no sort: `-created_at`, or with `q` relevance (pg_trgm `word_similarity(q, text)`, highest
first, then id descending; the cursor carries the similarity). Keyset paging with no result
cap: `next_cursor` continues this very search (same body and `q`), any other is 422
`invalid_cursor`. Filtering on linked records needs their
read permission too (an API key: their `...:read` scope)."""


def describe_export(object_name: str) -> str:
    return f"""The {object_name}s matching the body and `q` (as in search) as a CSV file,
streamed in pages of 1,000 however many there are, in the sort asked.

Columns: the built-in fields (lists such as tags joined with `;`, times in RFC 3339 UTC),
then `custom_fields.<key>` for each active custom field. Text cells that start with `=`,
`+`, `-`, `@`, a tab or a carriage return get a leading `'` (CSV injection), so E.164 phones
read `'+14155550123`. `Content-Disposition: attachment; filename=<objects>.csv`. Filters,
limits and errors are those of the search."""
