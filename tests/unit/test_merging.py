"""The merge rule (domain only, no storage): every kind of field, on contacts and companies."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from crm.domain.errors import InvalidInput
from crm.domain.model.company import Company
from crm.domain.model.company_rules import Address, SizeBand
from crm.domain.model.contact import Contact
from crm.domain.model.contact_rules import MAX_EMAILS, LifecycleStage
from crm.domain.model.merging import (
    FUNNEL,
    UNMERGED,
    further_stage,
    merge_value,
    merged_values,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WS = uuid4()


def contact(**values: Any) -> Contact:
    base: dict[str, Any] = {
        "display_name": None,
        "first_name": None,
        "last_name": None,
        "emails": (),
        "phones": (),
        "job_title": None,
        "company_name": None,
        "owner_id": None,
        "tags": (),
        "lifecycle_stage": LifecycleStage.LEAD,
        "custom_fields": {},
    }
    base.update(values)
    return Contact(uuid4(), WS, created_at=T0, updated_at=T0, **base)


def company(**values: Any) -> Company:
    base: dict[str, Any] = {
        "name": "Acme",
        "domain": None,
        "industry": None,
        "size_band": None,
        "country": None,
        "address": None,
        "website": None,
        "owner_id": None,
        "tags": (),
        "custom_fields": {},
    }
    base.update(values)
    return Company(uuid4(), WS, created_at=T0, updated_at=T0, **base)


@pytest.mark.parametrize(
    ("kept", "other", "merged"),
    [
        ("Ada", "Augusta", "Ada"),  # the survivor wins
        (None, "Augusta", "Augusta"),  # unless it is empty
        ("", "Augusta", "Augusta"),
        (0, 5, 0),  # zero and false are values, not empty
        (False, True, False),
        (None, None, None),
        (("a", "b"), ("b", "c"), ("a", "b", "c")),  # lists: union, survivor's first
        ((), ("x",), ("x",)),
        (["a"], ["b", "a"], ["a", "b"]),  # multi-select values stay lists
        ({"a": 1, "b": None}, {"b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}),  # key by key
        ({"t": ["x"]}, {"t": ["y"]}, {"t": ["x", "y"]}),
        ({"s": ""}, {"s": "from source"}, {"s": "from source"}),
    ],
)
def test_the_default_rule(kept: object, other: object, merged: object) -> None:
    assert merge_value(kept, other) == merged


def test_a_contact_takes_what_it_lacks_and_keeps_what_it_has() -> None:
    owner = uuid4()
    survivor = contact(
        first_name="Ada",
        emails=("ada@example.com",),
        phones=("+14155550101",),
        tags=("vip",),
        custom_fields={"score": 7, "plan": ""},
        lifecycle_stage=LifecycleStage.LEAD,
    )
    source = contact(
        first_name="Augusta",
        last_name="King",
        emails=("augusta@example.com", "ada@example.com"),
        phones=("+14155550102",),
        job_title="Countess",
        owner_id=owner,
        tags=("emea", "vip"),
        custom_fields={"score": 9, "plan": "gold", "region": "eu"},
        lifecycle_stage=LifecycleStage.CUSTOMER,
    )
    version = survivor.version
    changed = survivor.merge(source, T0 + timedelta(hours=1))
    assert (survivor.first_name, survivor.last_name, survivor.job_title) == (
        "Ada",
        "King",
        "Countess",
    )
    assert survivor.emails == ("ada@example.com", "augusta@example.com")
    assert survivor.phones == ("+14155550101", "+14155550102")
    assert survivor.tags == ("vip", "emea")
    assert survivor.owner_id == owner
    assert survivor.custom_fields == {"score": 7, "plan": "gold", "region": "eu"}
    assert survivor.lifecycle_stage is LifecycleStage.CUSTOMER
    assert set(changed) == {
        "last_name",
        "emails",
        "phones",
        "job_title",
        "owner_id",
        "tags",
        "custom_fields",
        "lifecycle_stage",
    }
    assert changed["emails"].old == ("ada@example.com",)
    assert (survivor.version, survivor.updated_at) == (version + 1, T0 + timedelta(hours=1))
    assert survivor.created_at == T0


def test_nothing_to_take_changes_nothing() -> None:
    survivor = contact(first_name="Ada", emails=("a@example.com",))
    source = contact(first_name="Other", emails=("a@example.com",))
    assert survivor.merge(source, T0 + timedelta(hours=1)) == {}
    assert (survivor.version, survivor.updated_at) == (1, T0)


@pytest.mark.parametrize(
    ("kept", "other", "result"),
    [
        (LifecycleStage.LEAD, LifecycleStage.CUSTOMER, LifecycleStage.CUSTOMER),
        (LifecycleStage.CUSTOMER, LifecycleStage.LEAD, LifecycleStage.CUSTOMER),
        (LifecycleStage.OTHER, LifecycleStage.SUBSCRIBER, LifecycleStage.SUBSCRIBER),
        (LifecycleStage.SUBSCRIBER, LifecycleStage.OTHER, LifecycleStage.SUBSCRIBER),
        (LifecycleStage.EVANGELIST, LifecycleStage.OPPORTUNITY, LifecycleStage.EVANGELIST),
    ],
)
def test_the_lifecycle_stage_is_the_further_one(
    kept: LifecycleStage, other: LifecycleStage, result: LifecycleStage
) -> None:
    assert further_stage(kept, other) is result
    assert set(FUNNEL) == set(LifecycleStage)


def test_every_field_of_a_record_is_merged_even_one_added_later() -> None:
    """The rule walks the dataclass's fields: a new field is merged without being named."""
    survivor = contact(first_name="Ada")
    source = contact(first_name="X", job_title="CTO", external_id="erp-7")
    names = {f.name for f in fields(Contact)} - UNMERGED
    merged = merged_values(survivor, source)
    assert set(merged) == names
    assert "external_id" in names
    assert (merged["first_name"], merged["job_title"], merged["external_id"]) == (
        "Ada",
        "CTO",
        "erp-7",
    )


def test_a_union_past_a_limit_is_refused_not_cut() -> None:
    survivor = contact(emails=tuple(f"a{i}@example.com" for i in range(MAX_EMAILS)))
    source = contact(emails=("extra@example.com",))
    with pytest.raises(InvalidInput) as raised:
        survivor.merge(source, T0)
    assert [(e.field, e.code) for e in raised.value.errors] == [("/emails", "too_many")]
    assert len(survivor.emails) == MAX_EMAILS


def test_a_company_takes_the_sources_domain_address_and_custom_values() -> None:
    address = Address(line1="1 Main St", city="London")
    survivor = company(name="Acme", tags=("b2b",), custom_fields={"arr": 10})
    source = company(
        name="ACME Ltd",
        domain="acme.com",
        industry="Tools",
        size_band=SizeBand.M,
        country="GB",
        address=address,
        website="https://acme.com",
        tags=("vip", "b2b"),
        custom_fields={"arr": 99, "plan": "gold"},
    )
    changed = survivor.merge(source, T0 + timedelta(minutes=1))
    assert survivor == replace(
        source,
        id=survivor.id,
        name="Acme",
        tags=("b2b", "vip"),
        custom_fields={"arr": 10, "plan": "gold"},
        created_at=T0,
        updated_at=T0 + timedelta(minutes=1),
        version=2,
    )
    assert "name" not in changed
    assert changed["domain"].new == "acme.com"
    # An address is one value (replaced as a whole), never merged part by part.
    kept = company(address=Address(line1="2 High St"))
    kept.merge(source, T0)
    assert kept.address == Address(line1="2 High St")
