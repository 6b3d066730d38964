"""The mapping rules of CSV imports: which column feeds which field, and how cells are read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from crm.domain.errors import InvalidInput
from crm.domain.model.custom_fields import CustomField, FieldSchema, ObjectType
from crm.domain.model.import_fields import FIELDS
from crm.domain.model.import_mapping import ImportPlan, RowRejected, rounds
from crm.domain.model.imports import Dedupe, ImportObject
from crm.domain.use_cases.batch import shapes

NOW = datetime(2026, 11, 29, tzinfo=UTC)
WS = uuid.uuid4()


def field(key: str, field_type: str, archived: bool = False, **raw: Any) -> CustomField:
    made = CustomField.create(
        uuid.uuid4(),
        WS,
        {"object_type": "contact", "key": key, "label": key, "field_type": field_type, **raw},
        NOW,
    )
    if archived:
        made.apply({"archived": True}, NOW)
    return made


SCHEMA = FieldSchema(
    ObjectType.CONTACT,
    [
        field("tier", "text"),
        field("score", "number"),
        field("vip", "boolean"),
        field("langs", "multi_select", options=[{"value": "en"}, {"value": "fr"}]),
        field("old", "text", archived=True),
    ],
)


def plan(
    header: list[str],
    mapping: dict[str, str | None] | None = None,
    dedupe: Dedupe = Dedupe.SKIP,
    match_on: str | None = None,
    object_type: ImportObject = ImportObject.CONTACTS,
) -> ImportPlan:
    return ImportPlan.build(object_type, header, mapping, SCHEMA, dedupe, match_on)


def refusal(*args: Any, **kwargs: Any) -> set[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        plan(*args, **kwargs)
    return {(e.field, e.code) for e in caught.value.errors}


def test_explicit_mapping_and_same_named_columns_apply_the_rest_is_ignored() -> None:
    p = plan(
        ["Email", "First", "last_name", "Notes", "custom_fields.tier"],
        {"Email": "emails", "First": "first_name"},
    )
    assert p.mapping == {
        "Email": "emails",
        "First": "first_name",
        "last_name": "last_name",
        "custom_fields.tier": "custom_fields.tier",
    }
    assert p.ignored_columns == ("Notes",)
    assert p.match_on == "email"


def test_a_null_mapping_entry_ignores_a_column_that_names_a_field() -> None:
    p = plan(["emails", "first_name"], {"first_name": None})
    assert p.mapping == {"emails": "emails"}
    assert p.ignored_columns == ("first_name",)


def test_cells_become_fields_lists_split_on_semicolons_empty_cells_are_left_out() -> None:
    p = plan(
        ["Email", "Email 2", "Name", "Tags", "Score", "VIP", "Langs", "Tier"],
        {
            "Email": "emails",
            "Email 2": "emails",
            "Name": "first_name",
            "Tags": "tags",
            "Score": "custom_fields.score",
            "VIP": "custom_fields.vip",
            "Langs": "custom_fields.langs",
            "Tier": "custom_fields.tier",
        },
    )
    row = p.row(
        ["a@x.io; b@x.io", "b@x.io;c@x.io", "  Ada ", "vip;;  big ", "4.5", "Yes", "en;fr", ""]
    )
    assert row == {
        "emails": ["a@x.io", "b@x.io", "c@x.io"],
        "first_name": "Ada",
        "tags": ["vip", "big"],
        "custom_fields": {"score": 4.5, "vip": True, "langs": ["en", "fr"]},
    }
    assert p.row(["", "", "", "", "7", "no", "", "x"]) == {
        "custom_fields": {"score": 7, "vip": False, "tier": "x"}
    }


def test_values_that_are_no_number_or_boolean_go_to_the_field_rule_unchanged() -> None:
    p = plan(["emails", "custom_fields.score", "custom_fields.vip"])
    assert p.row(["a@x.io", "lots", "maybe"]) == {
        "emails": ["a@x.io"],
        "custom_fields": {"score": "lots", "vip": "maybe"},
    }


def test_a_uuid_or_integer_cell_that_is_none_rejects_the_row() -> None:
    p = plan(["emails", "owner_id"])
    with pytest.raises(RowRejected) as caught:
        p.row(["a@x.io", "not-a-uuid"])
    assert caught.value.code == "invalid_uuid"
    deals = plan(["name", "amount_minor"], object_type=ImportObject.DEALS, dedupe=Dedupe.CREATE)
    with pytest.raises(RowRejected) as caught:
        deals.row(["Big deal", "12.5"])
    assert caught.value.code == "invalid_number"
    assert deals.row(["Big deal", "1250"]) == {"name": "Big deal", "amount_minor": 1250}


def test_company_address_parts_nest() -> None:
    p = plan(
        ["name", "domain", "City", "Zip"],
        {"City": "address.city", "Zip": "address.postal_code"},
        object_type=ImportObject.COMPANIES,
    )
    assert p.row(["Acme", "acme.io", "Paris", "75001"]) == {
        "name": "Acme",
        "domain": "acme.io",
        "address": {"city": "Paris", "postal_code": "75001"},
    }
    assert p.match_on == "domain"


def test_every_mapping_mistake_is_reported_at_its_column() -> None:
    assert refusal(
        ["Email", "A", "B", "C", "D"],
        {
            "Email": "emails",
            "Missing": "first_name",
            "A": "shoe_size",
            "B": "custom_fields.nope",
            "C": "custom_fields.old",
            "D": "emails",
        },
    ) == {
        ("/mapping/Missing", "unknown_column"),
        ("/mapping/A", "unknown_field"),
        ("/mapping/B", "unknown_field"),
        ("/mapping/C", "unknown_field"),
    }


def test_two_columns_for_one_single_value_field_are_refused() -> None:
    assert refusal(["A", "B", "emails"], {"A": "first_name", "B": "first_name"}) == {
        ("/mapping/B", "duplicate_field")
    }


def test_column_names_are_escaped_as_json_pointers() -> None:
    assert ("/mapping/a~1b~0c", "unknown_field") in refusal(["emails", "a/b~c"], {"a/b~c": "x"})


def test_match_on_must_be_a_key_of_the_object_and_mapped_unless_creating() -> None:
    assert refusal(["emails"], match_on="domain") == {("/match_on", "invalid_choice")}
    assert refusal(["first_name"]) == {("/match_on", "key_not_mapped")}
    assert refusal(["first_name"], match_on="phone", dedupe=Dedupe.UPDATE) == {
        ("/match_on", "key_not_mapped")
    }
    assert plan(["first_name"], dedupe=Dedupe.CREATE).match_on is None
    assert plan(["phones"], match_on="phone").match_on == "phone"


def test_a_file_that_maps_nothing_is_refused() -> None:
    assert ("/mapping", "nothing_mapped") in refusal(["Foo", "Bar"], dedupe=Dedupe.CREATE)


def test_rows_sharing_a_key_go_to_successive_rounds_in_file_order() -> None:
    items: list[dict[str, Any]] = [
        {"emails": ["a@x.io"]},
        {"emails": ["b@x.io"]},
        {"emails": ["A@x.io", "c@x.io"]},
        {"phones": ["+1 415 555 0100"]},
        {"emails": ["c@x.io"], "phones": ["+14155550100"]},
        {"first_name": "No key"},
    ]
    assert rounds(ImportObject.CONTACTS, items) == [[0, 1, 3, 5], [2], [4]]
    companies = [{"domain": "acme.io"}, {"domain": "https://www.ACME.io/"}, {"name": "x"}]
    assert rounds(ImportObject.COMPANIES, companies) == [[0, 2], [1]]


def test_headers_name_fields_whatever_their_case_spacing_or_number() -> None:
    p = plan(["E-mail", "First Name", " PHONE ", "Tag", "Custom_Fields.Tier", "emails"])
    assert p.mapping == {
        "First Name": "first_name",
        " PHONE ": "phones",
        "Tag": "tags",
        "Custom_Fields.Tier": "custom_fields.tier",
        "emails": "emails",
    }
    assert p.ignored_columns == ("E-mail",)


def test_the_importable_fields_are_the_fields_a_batch_takes() -> None:
    for object_type, shape in [
        (ImportObject.CONTACTS, shapes.CONTACT),
        (ImportObject.COMPANIES, shapes.COMPANY),
        (ImportObject.DEALS, shapes.DEAL),
    ]:
        tops = {name.split(".")[0] for name in FIELDS[object_type]}
        assert tops | {"custom_fields"} == set(shape), object_type
