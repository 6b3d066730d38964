from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.domain.errors import InvalidInput
from crm.domain.model.contact import Contact, ContactData, parse_changes
from crm.domain.model.contact_rules import LifecycleStage

PHONES = LibPhoneNumbers()
CLOCK = ManualClock()


def parse(**raw: Any) -> ContactData:
    return ContactData.parse(raw, PHONES.to_e164)


def errors_of(excinfo: pytest.ExceptionInfo[InvalidInput]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in excinfo.value.errors]


def make(**raw: Any) -> Contact:
    return Contact.create(uuid4(), uuid4(), parse(**raw), CLOCK.now())


def test_emails_are_trimmed_lowercased_and_deduplicated() -> None:
    data = parse(emails=[" Ada@Example.COM ", "ada@example.com", "b@x.io"])
    assert data.emails == ("ada@example.com", "b@x.io")


@pytest.mark.parametrize("bad", ["no-at-sign", "a@b", "two@@x.com", "sp ace@x.com", "@x.com"])
def test_an_invalid_email_is_named_by_its_position(bad: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(emails=["ok@example.com", bad])
    assert errors_of(excinfo) == [("/emails/1", "invalid_email")]


def test_phones_are_stored_in_e164() -> None:
    assert parse(phones=["+1 (415) 555-2671", "+44 20 7946 0958"]).phones == (
        "+14155552671",
        "+442079460958",
    )


@pytest.mark.parametrize("bad", ["12345", "+1 555", "call me", "+999 123 456 789"])
def test_a_phone_that_cannot_be_parsed_is_a_validation_problem(bad: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(phones=[bad])
    assert errors_of(excinfo) == [("/phones/0", "invalid_phone")]


def test_national_numbers_parse_with_a_default_region() -> None:
    assert LibPhoneNumbers("GB").to_e164("020 7946 0958") == "+442079460958"
    assert LibPhoneNumbers().to_e164("020 7946 0958") is None


def test_every_broken_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(emails=["x"], phones=["y"], lifecycle_stage="prospect", custom_fields={"Bad Key": 1})
    assert sorted(errors_of(excinfo)) == [
        ("/custom_fields/Bad Key", "invalid_key"),
        ("/emails/0", "invalid_email"),
        ("/lifecycle_stage", "invalid_choice"),
        ("/phones/0", "invalid_phone"),
    ]


def test_custom_field_values_are_json_scalars() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(custom_fields={"nested": {"a": 1}})
    assert errors_of(excinfo) == [("/custom_fields/nested", "not_a_scalar")]
    assert parse(custom_fields={"n": 1.5, "b": True, "s": "x", "gone": None}).custom_fields == {
        "n": 1.5,
        "b": True,
        "s": "x",
    }


def test_limits_on_list_sizes() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(emails=[f"a{i}@x.io" for i in range(11)], tags=[f"t{i}" for i in range(51)])
    assert sorted(errors_of(excinfo)) == [("/emails", "too_many"), ("/tags", "too_many")]


def test_tags_are_normalized() -> None:
    assert parse(tags=["  VIP ", "vip", "Key   Account"]).tags == ("vip", "key account")


def test_text_is_trimmed_and_bounded() -> None:
    assert parse(first_name="  Ada  ", last_name="").first_name == "Ada"
    with pytest.raises(InvalidInput) as excinfo:
        parse(first_name="x" * 101)
    assert errors_of(excinfo) == [("/first_name", "too_long")]


def test_a_contact_needs_a_name_an_email_or_a_phone() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        make(job_title="CEO")
    assert errors_of(excinfo) == [("/display_name", "identity_required")]
    assert make(phones=["+14155552671"]).name == "+14155552671"


def test_the_name_prefers_display_name_then_first_and_last_then_email() -> None:
    assert make(display_name="Countess", first_name="Ada").name == "Countess"
    assert make(first_name="Ada", last_name="Lovelace").name == "Ada Lovelace"
    assert make(emails=["ada@example.com"]).name == "ada@example.com"


def test_defaults() -> None:
    contact = make(first_name="Ada")
    assert contact.lifecycle_stage is LifecycleStage.LEAD
    assert (contact.version, contact.emails, contact.custom_fields) == (1, (), {})


def test_apply_reports_only_real_changes_and_bumps_the_version_once() -> None:
    contact = make(first_name="Ada", emails=["a@x.io"])
    later = CLOCK.now().replace(year=2027)
    changes = contact.apply(
        parse_changes({"first_name": "Ada", "job_title": "CTO"}, PHONES.to_e164), later
    )
    assert set(changes) == {"job_title"}
    assert (changes["job_title"].old, changes["job_title"].new) == (None, "CTO")
    assert (contact.version, contact.updated_at) == (2, later)
    assert contact.apply({"first_name": "Ada"}, later) == {}
    assert contact.version == 2


def test_custom_fields_merge_by_key_and_null_removes_a_key() -> None:
    contact = make(first_name="Ada", custom_fields={"a": 1, "b": 2})
    contact.apply(
        parse_changes({"custom_fields": {"b": None, "c": 3}}, PHONES.to_e164), CLOCK.now()
    )
    assert contact.custom_fields == {"a": 1, "c": 3}


def test_null_clears_and_the_stage_resets_to_lead() -> None:
    contact = make(first_name="Ada", emails=["a@x.io"], lifecycle_stage="customer")
    contact.apply(
        parse_changes({"emails": None, "lifecycle_stage": None}, PHONES.to_e164), CLOCK.now()
    )
    assert (contact.emails, contact.lifecycle_stage) == ((), LifecycleStage.LEAD)


def test_clearing_the_last_identity_is_refused() -> None:
    contact = make(emails=["a@x.io"])
    with pytest.raises(InvalidInput):
        contact.apply(parse_changes({"emails": []}, PHONES.to_e164), CLOCK.now())


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_changes({"nickname": "x"}, PHONES.to_e164)
    assert errors_of(excinfo) == [("/nickname", "unknown_field")]


def test_control_characters_are_refused_where_no_store_could_keep_them() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(
            first_name="A\x00da",
            job_title="\x07bell",
            emails=["a\x00@example.com"],
            tags=["v\x00ip"],
            custom_fields={"note": "nul \x00 inside", "ok": "tab\tand\nnewline"},
        )
    assert sorted(errors_of(excinfo)) == [
        ("/custom_fields/note", "invalid_character"),
        ("/emails/0", "invalid_email"),
        ("/first_name", "invalid_character"),
        ("/job_title", "invalid_character"),
        ("/tags/0", "invalid_character"),
    ]


def test_custom_integers_stay_within_what_every_client_reads_exactly() -> None:
    assert parse(custom_fields={"n": 2**53 - 1}).custom_fields == {"n": 2**53 - 1}
    cases = (("big", 2**64), ("small", -(2**53)), ("nan", float("nan")), ("inf", float("-inf")))
    for key, value in cases:
        with pytest.raises(InvalidInput) as excinfo:
            parse(custom_fields={key: value})
        assert errors_of(excinfo) == [(f"/custom_fields/{key}", "out_of_range")]
