"""Company field rules and the primary-company rules of contact-company links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from crm.domain.errors import InvalidInput
from crm.domain.model.company import CompanyData, CompanyLink, parse_fields, plan_link
from crm.domain.model.company_rules import Address, SizeBand, normalize_domain
from crm.domain.model.countries import ISO_3166_ALPHA_2

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://WWW.Acme.com/about", "acme.com"),
        ("acme.com", "acme.com"),
        ("  Acme.COM.  ", "acme.com"),
        ("http://user:pw@acme.com:8443/x?y=1#z", "acme.com"),
        ("acme.com/path", "acme.com"),
        ("acme.com:8080", "acme.com"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("shop.www.acme.com", "shop.www.acme.com"),
        ("https://Bücher.de", "xn--bcher-kva.de"),
        ("münchen.example", "xn--mnchen-3ya.example"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("my-company.io", "my-company.io"),
    ],
)
def test_domains_are_normalized(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "acme",
        "www.",
        "https://",
        "acme..com",
        "-acme.com",
        "acme-.com",
        "acme_corp.com",
        "acme corp.com",
        "192.168.0.1",
        "acme.com\x00",
        "a" * 64 + ".com",
        ".".join(["abcdefghi"] * 26) + ".com",
    ],
)
def test_what_is_not_a_domain_is_refused(raw: str) -> None:
    assert normalize_domain(raw) is None
    with pytest.raises(InvalidInput) as excinfo:
        parse_fields({"domain": raw})
    [error] = excinfo.value.errors
    assert (error.field, error.code) == ("/domain", "invalid_domain")


def test_every_size_band_and_nothing_else() -> None:
    bands = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001+"]
    assert [b.value for b in SizeBand] == bands
    for band in bands:
        assert parse_fields({"size_band": band}) == {"size_band": SizeBand(band)}
    for wrong in ("10-50", "5000+", "big", 10):
        with pytest.raises(InvalidInput) as excinfo:
            parse_fields({"size_band": wrong})
        assert excinfo.value.errors[0].code == "invalid_choice"


def test_countries_are_iso_3166_alpha_2() -> None:
    assert len(ISO_3166_ALPHA_2) == 249
    assert {"GB", "US", "DE", "AQ", "SS", "BQ", "CW", "SX", "AX"} <= ISO_3166_ALPHA_2
    assert parse_fields({"country": "gb"}) == {"country": "GB"}
    for wrong in ("UK", "XK", "GBR", "EU", "zz", ""):
        with pytest.raises(InvalidInput) as excinfo:
            parse_fields({"country": wrong})
        assert (excinfo.value.errors[0].field, excinfo.value.errors[0].code) == (
            "/country",
            "invalid_country",
        )


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("https://acme.com", True),
        ("http://acme.com/about?x=1", True),
        ("HTTPS://Acme.com", True),
        ("ftp://acme.com", False),
        ("acme.com", False),
        ("https://", False),
        ("https://acme .com", False),
        ("javascript:alert(1)", False),
        ("https://[::1", False),
    ],
)
def test_websites_are_http_urls(raw: str, ok: bool) -> None:
    if ok:
        assert parse_fields({"website": raw}) == {"website": raw}
        return
    with pytest.raises(InvalidInput) as excinfo:
        parse_fields({"website": raw})
    assert excinfo.value.errors[0].code == "invalid_url"


def test_addresses_are_cleaned_and_checked() -> None:
    raw = {"line1": " 1  Main St ", "city": "Springfield", "postal_code": None}
    assert parse_fields({"address": raw}) == {
        "address": Address(line1="1 Main St", city="Springfield")
    }
    assert parse_fields({"address": {"city": "  "}}) == {"address": None}
    with pytest.raises(InvalidInput) as excinfo:
        parse_fields({"address": {"street": "1 Main St"}})
    assert excinfo.value.errors[0].field == "/address/street"
    with pytest.raises(InvalidInput) as excinfo:
        parse_fields({"address": {"city": "x" * 101}})
    assert (excinfo.value.errors[0].field, excinfo.value.errors[0].code) == (
        "/address/city",
        "too_long",
    )


def test_a_company_needs_a_name_and_every_broken_field_is_named() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        CompanyData.parse({"domain": "nope", "country": "XX", "colour": "red"})
    assert {(e.field, e.code) for e in excinfo.value.errors} == {
        ("/name", "required"),
        ("/domain", "invalid_domain"),
        ("/country", "invalid_country"),
        ("/colour", "unknown_field"),
    }
    with pytest.raises(InvalidInput):
        parse_fields({"name": "   "})
    data = CompanyData.parse({"name": " Acme ", "domain": "https://www.acme.com", "tags": ["VIP"]})
    assert (data.name, data.domain, data.tags) == ("Acme", "acme.com", ("vip",))


# Primary-company rules


def _link(
    company: UUID, primary: bool, minutes: int = 0, contact: UUID | None = None
) -> CompanyLink:
    return CompanyLink(WS, contact or CONTACT, company, primary, T0 + timedelta(minutes=minutes))


WS, CONTACT = uuid4(), uuid4()
A, B, C = uuid4(), uuid4(), uuid4()


def test_the_first_link_becomes_primary_and_the_next_ones_do_not() -> None:
    first = plan_link([], _link(A, False), None)
    assert (first.created, first.link.is_primary, first.writes) == (True, True, (first.link,))
    assert (first.primary_before, first.primary_after) == (None, A)
    second = plan_link([first.link], _link(B, False, 1), None)
    assert (second.created, second.link.is_primary) == (True, False)
    assert second.writes == (second.link,)
    assert (second.primary_before, second.primary_after) == (A, A)


def test_a_new_link_can_be_made_secondary_even_when_there_is_no_primary() -> None:
    plan = plan_link([], _link(A, False), False)
    assert (plan.link.is_primary, plan.primary_after) == (False, None)


def test_setting_a_new_primary_clears_the_old_one_first() -> None:
    links = [_link(A, True), _link(B, False, 1)]
    plan = plan_link(links, _link(B, False, 5), True)
    assert not plan.created
    # The old primary is cleared before the new one is set (one primary at any moment).
    assert plan.writes == (_link(A, False), _link(B, True, 1))
    assert plan.link.created_at == T0 + timedelta(minutes=1)
    assert (plan.primary_before, plan.primary_after) == (A, B)
    brand_new = plan_link(links, _link(C, False, 9), True)
    assert brand_new.writes == (_link(A, False), _link(C, True, 9))


def test_relinking_as_it_is_changes_nothing() -> None:
    links = [_link(A, True), _link(B, False, 1)]
    for company, primary in ((A, None), (A, True), (B, None), (B, False)):
        plan = plan_link(links, _link(company, False, 7), primary)
        assert (plan.created, plan.writes) == (False, ())
        assert plan.primary_before == plan.primary_after == A


def test_a_primary_link_can_be_made_secondary_leaving_none_primary() -> None:
    plan = plan_link([_link(A, True), _link(B, False, 1)], _link(A, False, 3), False)
    assert plan.writes == (_link(A, False),)
    assert (plan.primary_before, plan.primary_after) == (A, None)
    # With no primary left, the next new link takes the place.
    again = plan_link([_link(A, False), _link(B, False, 1)], _link(C, False, 4), None)
    assert (again.link.is_primary, again.primary_after) == (True, C)
