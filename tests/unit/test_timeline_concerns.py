"""Which records each domain event concerns (a table in the domain, checked for every event
type), and how a recorded event reads back."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.domain.errors import InvalidCursor
from crm.domain.model import events as ev
from crm.domain.model.timeline import (
    AUDIT_RECORD_TYPES,
    RULES,
    EventPosition,
    RecordedEvent,
    concerns,
)


def every_event_type() -> list[type[ev.DomainEvent]]:
    found, todo = [], list(ev.DomainEvent.__subclasses__())
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo += kind.__subclasses__()
    return found


@pytest.mark.parametrize("kind", every_event_type(), ids=lambda k: k.topic)
def test_every_event_type_has_a_concerns_rule(kind: type[ev.DomainEvent]) -> None:
    # A new event type must say which records it concerns (even "only its aggregate": ()).
    assert kind.topic in RULES, f"add {kind.topic!r} to crm.domain.model.timeline.RULES"
    assert kind.aggregate_type in AUDIT_RECORD_TYPES


def test_rules_name_no_topic_that_does_not_exist() -> None:
    assert set(RULES) == {k.topic for k in every_event_type()}


def test_an_event_concerns_its_aggregate_and_the_records_its_payload_names() -> None:
    contact, company, deal, note = uuid4(), uuid4(), uuid4(), uuid4()
    linked = {"company_id": str(company), "is_primary": True}
    assert concerns("contact.company_linked", "contact", contact, linked) == [
        ("contact", contact),
        ("company", company),
    ]
    on_deal = {"record_type": "deal", "record_id": str(deal), "text": "hi"}
    assert concerns("note.added", "note", note, on_deal) == [("note", note), ("deal", deal)]
    about_nothing = {"record_type": None, "record_id": None}
    assert concerns("task.created", "task", note, about_nothing) == [("task", note)]
    moved = {"old_company_id": None, "new_company_id": str(company)}
    assert concerns("contact.primary_company_changed", "contact", contact, moved) == [
        ("contact", contact),
        ("company", company),
    ]
    to_contact = {"object_type": "contact", "object_id": str(contact)}
    assert concerns("deal.linked", "deal", deal, to_contact) == [
        ("deal", deal),
        ("contact", contact),
    ]
    source = uuid4()
    merged = {"source_id": str(source)}
    assert concerns("contact.merged", "contact", contact, merged)[1] == ("contact", source)
    assert concerns("some.new_topic", "thing", note, linked) == [("thing", note)]


def test_changes_and_data_split_the_payload() -> None:
    def recorded(payload: dict[str, object]) -> RecordedEvent:
        return RecordedEvent(uuid4(), "t.x", ManualClock().now(), None, "t", uuid4(), payload)

    updated = recorded({"changes": {"job_title": {"old": None, "new": "CTO"}}})
    assert updated.changes == {"job_title": {"old": None, "new": "CTO"}}
    assert updated.data == {}
    # Not old/new pairs: not field changes, so they stay in `data`.
    other = recorded({"changes": {"title": "x"}, "k": 1})
    assert other.changes is None
    assert other.data == {"changes": {"title": "x"}, "k": 1}


def test_event_cursors_round_trip_and_refuse_other_lists() -> None:
    at = EventPosition(ManualClock().now(), uuid4())
    assert EventPosition.decode(at.encode()) == at
    with pytest.raises(InvalidCursor):
        EventPosition.decode("bm90LWEtY3Vyc29y")


def test_the_audit_filter_offers_every_record_type() -> None:
    from typing import get_args

    from crm.entrypoints.api.schemas.timeline import AuditRecordType

    assert set(get_args(AuditRecordType)) == set(AUDIT_RECORD_TYPES)
