"""The search filter language (parsing, validation, limits), its cursor and pg_trgm's word
similarity in Python (the use cases are in test_search_use_cases.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, get_args
from uuid import uuid4

import pytest

from crm.adapters.memory.trigrams import fuzzy_match, word_similarity
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.domain.errors import InvalidCursor, InvalidInput
from crm.domain.model.custom_fields import FieldSchema, FieldType, ObjectType
from crm.domain.model.search import SearchParser, SearchQuery, needs_custom_fields
from crm.domain.model.search_fields import FIELDS, OPERATORS, SORTS, Kind, Operator
from crm.domain.search_paging import SearchPosition, decode_search_cursor, encode_search_cursor
from crm.entrypoints.api.schemas import search as schemas
from tests.support.search_cases import f, one
from tests.support.search_world import definition

CONTACT = ObjectType.CONTACT
WS = uuid4()
FIELD_DEFS = [
    definition(WS, "score", FieldType.NUMBER),
    definition(WS, "langs", FieldType.MULTI_SELECT, "en", "fr"),
    definition(WS, "old", FieldType.TEXT, archived=True),
]


def parser(object_type: ObjectType = CONTACT) -> SearchParser:
    return SearchParser(
        object_type, LibPhoneNumbers().to_e164, FieldSchema(object_type, FIELD_DEFS)
    )


def parse(*filters: dict[str, Any], object_type: ObjectType = CONTACT) -> SearchQuery:
    return parser(object_type).parse({"filter_groups": [{"filters": list(filters)}]})


def errors_of(body: dict[str, Any], q: str | None = None) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parser().parse(body, q)
    return [(e.field, e.code) for e in caught.value.errors]


# A valid value for every kind and operator (the parser normalizes it).
SAMPLE = {
    Kind.TEXT: "Ada",
    Kind.TEXT_LIST: "ada@acme.com",
    Kind.ENUM: "lead",
    Kind.UUID: str(uuid4()),
    Kind.NUMBER: 7,
    Kind.DATE: "2026-01-31",
    Kind.DATETIME: "2026-01-31T09:30:00Z",
    Kind.BOOLEAN: True,
    Kind.SET: "vip",
}
FIELD_OF = {
    Kind.TEXT: (CONTACT, "job_title"),
    Kind.TEXT_LIST: (CONTACT, "email"),
    Kind.ENUM: (CONTACT, "lifecycle_stage"),
    Kind.UUID: (CONTACT, "owner_id"),
    Kind.NUMBER: (ObjectType.DEAL, "amount_minor"),
    Kind.DATE: (ObjectType.DEAL, "expected_close_date"),
    Kind.DATETIME: (CONTACT, "created_at"),
    Kind.BOOLEAN: (CONTACT, "custom_fields.flag"),
    Kind.SET: (CONTACT, "tags"),
}


@pytest.mark.parametrize(
    ("kind", "operator"), [(k, o) for k in Kind for o in Operator if o in OPERATORS[k]]
)
def test_every_operator_parses_on_every_kind_it_applies_to(kind: Kind, operator: Operator) -> None:
    object_type, name = FIELD_OF[kind]
    sample = SAMPLE[kind]
    value: Any = {Operator.IS_NULL: True, Operator.IN: [sample], Operator.NOT_IN: [sample]}.get(
        operator, sample
    )
    schema = FieldSchema(CONTACT, [definition(WS, "flag", FieldType.BOOLEAN)])
    p = SearchParser(object_type, LibPhoneNumbers().to_e164, schema)
    query = p.parse(one(f(name, operator.value, value)))
    [[condition]] = query.groups
    assert (condition.field.kind, condition.operator) == (kind, operator)


@pytest.mark.parametrize(
    ("kind", "operator"), [(k, o) for k in Kind for o in Operator if o not in OPERATORS[k]]
)
def test_an_operator_that_does_not_apply_is_named(kind: Kind, operator: Operator) -> None:
    object_type, name = FIELD_OF[kind]
    schema = FieldSchema(CONTACT, [definition(WS, "flag", FieldType.BOOLEAN)])
    p = SearchParser(object_type, LibPhoneNumbers().to_e164, schema)
    with pytest.raises(InvalidInput) as caught:
        p.parse(one(f(name, operator.value, SAMPLE[kind])))
    [error] = caught.value.errors
    assert (error.field, error.code) == (
        "/filter_groups/0/filters/0/operator",
        "invalid_search_operator",
    )
    assert operator.value in error.message
    assert name in error.message


def test_values_are_typed_and_normalized_like_writes() -> None:
    query = parse(
        f("email", "eq", " ADA@Acme.com "),
        f("phone", "in", ["+1 415 555 2671"]),
        f("tags", "contains", "  VIP  "),
        f("created_at", "gte", "2026-01-31T10:30:00+01:00"),
        f("custom_fields.score", "lt", 2.5),
        f("company.domain", "eq", "https://www.Acme.com/about"),
    )
    values = [c.value for c in query.groups[0]]
    assert values == [
        "ada@acme.com",
        ("+14155552671",),
        ("vip",),
        datetime(2026, 1, 31, 9, 30, tzinfo=UTC),
        2.5,
        "acme.com",
    ]
    deal = parse(f("expected_close_date", "lte", "2026-02-01"), object_type=ObjectType.DEAL)
    assert deal.groups[0][0].value == date(2026, 2, 1)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (f("custom_fields.score", "gt", "7"), "a number"),
        (f("custom_fields.score", "gt", True), "a number"),
        (f("created_at", "lt", "2026-01-31T09:30:00"), "offset"),
        (f("created_at", "lt", "yesterday"), "offset"),
        (f("owner_id", "eq", "not-a-uuid"), "UUID"),
        (f("lifecycle_stage", "eq", "royalty"), "not one of"),
        (f("first_name", "in", "Ada"), "a list"),
        (f("first_name", "in", []), "a list"),
        (f("first_name", "in", ["x"] * 101), "1 to 100"),
        (f("first_name", "eq", "x" * 201), "1 to 200"),
        (f("first_name", "eq", 7), "a string"),
        (f("first_name", "is_null", "yes"), "true or false"),
        (f("phone", "eq", "call me"), "phone number"),
        (f("company.domain", "eq", "nowhere"), "domain"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(condition)
    [error] = caught.value.errors
    assert (error.field, error.code) == ("/filter_groups/0/filters/0/value", "invalid_search_value")
    assert message in error.message
    assert condition["field"] in error.message


@pytest.mark.parametrize(
    "name",
    ["nickname", "emails", "custom_fields.nope", "custom_fields.old", "company.email",
     "contact.first_name", "company.custom_fields.plan", ""],
)  # fmt: skip
def test_an_unknown_field_is_named(name: str) -> None:
    assert errors_of(one(f("first_name", "eq", "A"), f(name, "eq", "x"))) == [
        ("/filter_groups/0/filters/1/field", "unknown_search_field")
    ]


def test_an_unknown_operator_is_named_and_every_error_reported() -> None:
    body = {
        "filter_groups": [
            {"filters": [f("first_name", "like", "A")]},
            {"filters": [f("nope", "eq", 1), f("first_name", "gt", "A")]},
        ],
        "sort": "email",
    }
    assert errors_of(body, "   ") == [
        ("/filter_groups/0/filters/0/operator", "invalid_search_operator"),
        ("/filter_groups/1/filters/0/field", "unknown_search_field"),
        ("/filter_groups/1/filters/1/operator", "invalid_search_operator"),
        ("/q", "invalid_search_value"),
        ("/sort", "invalid_sort"),
    ]


def test_limits_are_enforced_and_named() -> None:
    group = {"filters": [f("first_name", "eq", "A")]}
    assert errors_of({"filter_groups": [group] * 6}) == [("/filter_groups", "search_too_large")]
    assert errors_of({"filter_groups": [{"filters": group["filters"] * 11}]}) == [
        ("/filter_groups/0/filters", "search_too_large")
    ]
    assert errors_of({"filter_groups": [{"filters": group["filters"] * 9}] * 3}) == [
        ("/filter_groups", "search_too_large")
    ]
    assert errors_of({}, "x" * 201) == [("/q", "invalid_search_value")]
    assert parser().parse({"filter_groups": [group] * 5}, "x" * 200).q == "x" * 200


def test_no_groups_and_the_default_sort() -> None:
    query = parser().parse({})
    assert (query.groups, query.sort.text, query.q) == ((), "-created_at", None)
    assert parser().parse({}, "  Ada   Love ").q == "Ada Love"


def test_relations_and_custom_fields_are_seen() -> None:
    body = one(f("company.industry", "eq", "x"), f("custom_fields.score", "gt", 1))
    assert parser().parse(body).relations() == {ObjectType.COMPANY}
    assert needs_custom_fields(body)
    assert not needs_custom_fields(one(f("tags", "eq", "x")))


def test_the_api_sort_enums_are_the_catalogues() -> None:
    for object_type, literal in (
        (CONTACT, schemas.ContactSearchSort),
        (ObjectType.COMPANY, schemas.CompanySearchSort),
        (ObjectType.DEAL, schemas.DealSearchSort),
    ):
        assert set(get_args(literal)) == {s for n in SORTS[object_type] for s in (n, f"-{n}")}
        assert set(SORTS[object_type]) <= set(FIELDS[object_type])


def test_the_api_operators_are_the_domains() -> None:
    assert [o.value for o in schemas.SearchOperator] == [o.value for o in Operator]


def test_the_cursor_continues_only_its_own_search() -> None:
    query = parser().parse({"sort": "last_name"})
    position = SearchPosition("Lovelace", uuid4())
    cursor = encode_search_cursor(position, query)
    assert decode_search_cursor(cursor, query) == position
    assert decode_search_cursor(cursor, parser().parse({"sort": "last_name"})) == position
    empty = encode_search_cursor(SearchPosition(None, position.id), query)
    assert decode_search_cursor(empty, query).value is None
    for other in (
        parser().parse({"sort": "-last_name"}),
        parser().parse({"sort": "last_name"}, "ada"),
        parser().parse({"sort": "last_name", **one(f("tags", "eq", "vip"))}),
    ):
        with pytest.raises(InvalidCursor):
            decode_search_cursor(cursor, other)
    for broken in ("nope", cursor[:-3], "W10"):
        with pytest.raises(InvalidCursor):
            decode_search_cursor(broken, query)
    timed = parser().parse({})
    at = SearchPosition(datetime(2026, 1, 1, tzinfo=UTC), uuid4())
    assert decode_search_cursor(encode_search_cursor(at, timed), timed) == at


@pytest.mark.parametrize(
    ("q", "text", "expected"),
    [("jonh", "john smith", 0.4), ("alexandar", "alexandra grey", 0.7),
     ("smiht", "john smith", 0.5), ("word", "two words", 0.8), ("acm", "Acme Corp", 0.75)],
)  # fmt: skip
def test_word_similarity_is_pg_trgms(q: str, text: str, expected: float) -> None:
    # The figures are PostgreSQL 15's own `word_similarity(q, text)`.
    assert word_similarity(q, text) == pytest.approx(expected)


def test_fuzzy_match_takes_substrings_and_close_words() -> None:
    assert fuzzy_match("CE@ACME", "ada lovelace ada@acme.com")
    assert fuzzy_match("alexandar", "Alexandra grey")
    assert not fuzzy_match("jonh", "john smith")
