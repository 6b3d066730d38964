"""Custom field definitions, value rules, archiving, and the tag catalogue on memory adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.custom_fields import InMemoryCustomFieldReader, InMemoryTagReader
from crm.adapters.memory.merges import InMemoryTombstoneReader
from crm.adapters.memory.readers import InMemoryContactReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    CustomFieldKeyTaken,
    CustomFieldNotFound,
    InvalidInput,
    PermissionDenied,
    TagNameTaken,
    TagNotFound,
    VersionConflict,
)
from crm.domain.model.company import Company
from crm.domain.model.custom_fields import CustomField, FieldSchema, FieldType, ObjectType, merge
from crm.domain.model.deal import Deal, DealStatus
from crm.domain.model.permissions import ActorKind, Principal, Role, Scope
from crm.domain.model.tags import Tag, parse_tag_filter
from crm.domain.pagination import PageRequest
from crm.domain.use_cases import custom_fields as cf
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.get_contact import GetContact
from crm.domain.use_cases.list_contacts import ListContacts
from crm.domain.use_cases.update_contact import UpdateContact, UpdateContactCommand

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
WS = uuid4()
PHONES = LibPhoneNumbers("US")


def field(field_type: str, key: str = "f", **extra: Any) -> CustomField:
    raw = {"object_type": "contact", "key": key, "label": key.title(), "field_type": field_type}
    return CustomField.create(uuid4(), WS, {**raw, **extra}, NOW)


def errors_of(excinfo: pytest.ExceptionInfo[InvalidInput]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in excinfo.value.errors]


SELECT_OPTIONS = [{"value": "free", "label": "Free"}, {"value": "pro"}]

GOOD: list[tuple[str, dict[str, Any], Any, Any]] = [
    ("text", {}, "tab\tand\nnewline", "tab\tand\nnewline"),
    ("text", {}, "x" * 10_000, "x" * 10_000),
    ("number", {}, 3, 3),
    ("number", {}, -2.5, -2.5),
    ("number", {}, 2**53 - 1, 2**53 - 1),
    ("boolean", {}, False, False),
    ("date", {}, "2026-02-28", "2026-02-28"),
    ("datetime", {}, "2026-01-31T10:30:00+01:00", "2026-01-31T09:30:00Z"),
    ("datetime", {}, "2026-01-31t09:30:00.250z", "2026-01-31T09:30:00.250000Z"),
    ("url", {}, "https://example.com/a?b=c", "https://example.com/a?b=c"),
    ("url", {}, "http://localhost:8080", "http://localhost:8080"),
    ("email", {}, " Ada@Example.COM ", "ada@example.com"),
    ("phone", {}, "(415) 555-0123", "+14155550123"),
    ("single_select", {"options": SELECT_OPTIONS}, "pro", "pro"),
    ("multi_select", {"options": SELECT_OPTIONS}, ["pro", "free"], ["pro", "free"]),
    ("multi_select", {"options": SELECT_OPTIONS}, [], []),
]

BAD: list[tuple[str, dict[str, Any], Any, str]] = [
    ("text", {}, 5, "wrong_type"),
    ("text", {}, "x" * 10_001, "too_long"),
    ("text", {}, "nul\x00", "invalid_character"),
    ("number", {}, "5", "wrong_type"),
    ("number", {}, True, "wrong_type"),
    ("number", {}, float("nan"), "out_of_range"),
    ("number", {}, float("inf"), "out_of_range"),
    ("number", {}, 2**53, "out_of_range"),
    ("boolean", {}, "true", "wrong_type"),
    ("boolean", {}, 1, "wrong_type"),
    ("date", {}, "2026-02-30", "invalid_date"),
    ("date", {}, "2026-2-3", "invalid_date"),
    ("date", {}, "2026-02-03T00:00:00Z", "invalid_date"),
    ("date", {}, 20260203, "wrong_type"),
    ("datetime", {}, "2026-01-31T09:30:00", "invalid_datetime"),
    ("datetime", {}, "2026-01-31", "invalid_datetime"),
    ("datetime", {}, "2026-13-31T09:30:00Z", "invalid_datetime"),
    ("url", {}, "ftp://example.com", "invalid_url"),
    ("url", {}, "javascript:alert(1)", "invalid_url"),
    ("url", {}, "https://", "invalid_url"),
    ("url", {}, "https://exa mple.com", "invalid_url"),
    ("url", {}, ["https://example.com"], "wrong_type"),
    ("email", {}, "not-an-email", "invalid_email"),
    ("phone", {}, "12", "invalid_phone"),
    ("phone", {}, 4155550123, "wrong_type"),
    ("single_select", {"options": SELECT_OPTIONS}, "gold", "unknown_option"),
    ("single_select", {"options": SELECT_OPTIONS}, ["pro"], "wrong_type"),
    ("multi_select", {"options": SELECT_OPTIONS}, ["pro", "gold"], "unknown_option"),
    ("multi_select", {"options": SELECT_OPTIONS}, ["pro", "pro"], "duplicate_option"),
    ("multi_select", {"options": SELECT_OPTIONS}, "pro", "wrong_type"),
    ("multi_select", {"options": SELECT_OPTIONS}, [1], "wrong_type"),
]


@pytest.mark.parametrize(("field_type", "extra", "value", "stored"), GOOD)
def test_good_values_are_normalized(
    field_type: str, extra: dict[str, Any], value: Any, stored: Any
) -> None:
    schema = FieldSchema(ObjectType.CONTACT, [field(field_type, **extra)])
    assert schema.validate({"f": value}, PHONES.to_e164) == {"f": stored}


@pytest.mark.parametrize(("field_type", "extra", "value", "code"), BAD)
def test_bad_values_name_the_field_and_the_rule(
    field_type: str, extra: dict[str, Any], value: Any, code: str
) -> None:
    schema = FieldSchema(ObjectType.CONTACT, [field(field_type, **extra)])
    with pytest.raises(InvalidInput) as excinfo:
        schema.validate({"f": value}, PHONES.to_e164)
    assert errors_of(excinfo) == [("/custom_fields/f", code)]


def test_every_field_type_is_covered_both_ways() -> None:
    assert {g[0] for g in GOOD} == {b[0] for b in BAD} == {t.value for t in FieldType}


def test_phone_without_a_normalizer_needs_e164() -> None:
    schema = FieldSchema(ObjectType.CONTACT, [field("phone")])
    assert schema.validate({"f": "+1 415-555-0123"}) == {"f": "+14155550123"}
    with pytest.raises(InvalidInput):
        schema.validate({"f": "(415) 555-0123"})


def test_unknown_keys_and_other_object_types_are_refused_all_at_once() -> None:
    deal_field = CustomField.create(
        uuid4(), WS, {"object_type": "deal", "key": "d", "label": "D", "field_type": "text"}, NOW
    )
    schema = FieldSchema(ObjectType.CONTACT, [field("number", "n"), deal_field])
    with pytest.raises(InvalidInput) as excinfo:
        schema.validate({"n": "x", "d": "y", "zz": 1})
    assert errors_of(excinfo) == [
        ("/custom_fields/n", "wrong_type"),
        ("/custom_fields/d", "unknown_field"),
        ("/custom_fields/zz", "unknown_field"),
    ]


def test_null_clears_and_merge_keeps_the_rest() -> None:
    schema = FieldSchema(ObjectType.CONTACT, [field("number", "a"), field("number", "b")])
    changes = schema.validate({"a": None, "b": 2})
    assert changes == {"a": None, "b": 2}
    assert merge({"a": 1, "legacy": "x"}, changes) == {"b": 2, "legacy": "x"}


def test_archived_fields_refuse_writes_and_hide_values_until_unarchived() -> None:
    f = field("text", "note")
    assert f.apply({"archived": True}, NOW) is True
    assert (f.archived, f.version) == (True, 2)
    schema = FieldSchema(ObjectType.CONTACT, [f])
    with pytest.raises(InvalidInput) as excinfo:
        schema.validate({"note": "x"})
    assert errors_of(excinfo) == [("/custom_fields/note", "field_archived")]
    assert schema.visible({"note": "kept", "other": 1}) == {"other": 1}
    assert f.apply({"archived": False}, NOW) is True
    assert FieldSchema(ObjectType.CONTACT, [f]).visible({"note": "kept"}) == {"note": "kept"}
    assert f.apply({"archived": False}, NOW) is False
    assert f.version == 3


def test_definitions_are_checked() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        CustomField.create(
            uuid4(),
            WS,
            {"object_type": "lead", "key": "Bad Key", "label": " ", "field_type": "json"},
            NOW,
        )
    assert errors_of(excinfo) == [
        ("/object_type", "invalid_choice"),
        ("/field_type", "invalid_choice"),
        ("/key", "invalid_key"),
        ("/label", "invalid_label"),
    ]
    with pytest.raises(InvalidInput) as excinfo:
        field("single_select")
    assert errors_of(excinfo) == [("/options", "options_required")]
    with pytest.raises(InvalidInput) as excinfo:
        field("text", options=SELECT_OPTIONS)
    assert errors_of(excinfo) == [("/options", "options_not_allowed")]
    with pytest.raises(InvalidInput) as excinfo:
        field("multi_select", options=[{"value": "a"}, {"value": "a"}, {"value": ""}])
    assert errors_of(excinfo) == [
        ("/options/1", "invalid_option"),
        ("/options/2", "invalid_option"),
    ]
    assert [o.label for o in field("single_select", options=SELECT_OPTIONS).options] == [
        "Free",
        "pro",
    ]


def test_key_and_type_never_change_but_label_and_options_do() -> None:
    f = field("single_select", options=SELECT_OPTIONS)
    with pytest.raises(InvalidInput) as excinfo:
        f.apply({"key": "g", "field_type": "text"}, NOW)
    assert errors_of(excinfo) == [("/key", "immutable"), ("/field_type", "immutable")]
    assert f.apply({"key": "f", "label": "Plan", "options": [{"value": "gold"}]}, NOW) is True
    assert (f.label, [o.value for o in f.options], f.version) == ("Plan", ["gold"], 2)
    # A removed option: new writes need a current option; stored values stay visible.
    schema = FieldSchema(ObjectType.CONTACT, [f])
    with pytest.raises(InvalidInput):
        schema.validate({"f": "pro"})
    assert schema.visible({"f": "pro"}) == {"f": "pro"}


def test_tags_are_normalized_and_colors_checked() -> None:
    tag = Tag.create(uuid4(), WS, {"name": "  Key   Account ", "color": "#D62728"}, NOW)
    assert (tag.name, tag.color) == ("key account", "#d62728")
    with pytest.raises(InvalidInput) as excinfo:
        Tag.create(uuid4(), WS, {"name": "", "color": "red", "size": 1}, NOW)
    assert errors_of(excinfo) == [
        ("/name", "invalid_tag"),
        ("/color", "invalid_color"),
        ("/size", "unknown_field"),
    ]
    assert parse_tag_filter(["VIP", " vip ", "emea"]) == ("vip", "emea")
    with pytest.raises(InvalidInput):
        parse_tag_filter(["x"] * 11)


# --- use cases on the memory adapters --------------------------------------------------------


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids = Uuid7Generator()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        self.create_field = cf.CreateCustomField(uow, self.clock, ids)
        self.update_field = cf.UpdateCustomField(uow, self.clock, ids)
        self.get_field = cf.GetCustomField(InMemoryCustomFieldReader(self.store))
        self.list_fields = cf.ListCustomFields(InMemoryCustomFieldReader(self.store))
        self.create_tag = cf.CreateTag(uow, self.clock, ids)
        self.update_tag = cf.UpdateTag(uow, self.clock, ids)
        self.delete_tag = cf.DeleteTag(uow, self.clock, ids)
        self.get_tag = cf.GetTag(InMemoryTagReader(self.store))
        self.list_tags = cf.ListTags(InMemoryTagReader(self.store))
        self.create_contact = CreateContact(uow, self.clock, ids, PHONES)
        self.update_contact = UpdateContact(uow, self.clock, ids, PHONES)
        self.get_contact = GetContact(
            InMemoryContactReader(self.store), InMemoryTombstoneReader(self.store)
        )
        self.list_contacts = ListContacts(InMemoryContactReader(self.store))
        self.workspace_id = uuid4()

    def admin(self) -> Principal:
        return Principal(self.workspace_id, uuid4(), ActorKind.USER, role=Role.ADMIN)

    def member(self) -> Principal:
        return Principal(self.workspace_id, uuid4(), ActorKind.USER, role=Role.MEMBER)

    async def define(self, key: str, field_type: str, **extra: Any) -> CustomField:
        raw = {"object_type": "contact", "key": key, "label": key, "field_type": field_type}
        return await self.create_field.execute(self.admin(), {**raw, **extra})

    async def contact(self, **fields: Any) -> Any:
        return await self.create_contact.execute(CreateContactCommand(self.admin(), fields))

    def tag_names(self) -> list[str]:
        return sorted(t.name for t in self.store.state.tags.values())


@pytest.fixture
def world() -> World:
    return World()


async def test_contacts_write_only_defined_fields(world: World) -> None:
    await world.define("plan", "single_select", options=SELECT_OPTIONS)
    await world.define("renewal", "date")
    contact = await world.contact(first_name="Ada", custom_fields={"plan": "pro"})
    assert contact.custom_fields == {"plan": "pro"}
    with pytest.raises(InvalidInput) as excinfo:
        await world.contact(first_name="Eve", custom_fields={"plan": "gold", "nope": 1})
    assert errors_of(excinfo) == [
        ("/custom_fields/plan", "unknown_option"),
        ("/custom_fields/nope", "unknown_field"),
    ]
    with pytest.raises(InvalidInput) as excinfo:
        await world.update_contact.execute(
            UpdateContactCommand(world.admin(), contact.id, {"custom_fields": {"renewal": "soon"}})
        )
    assert errors_of(excinfo) == [("/custom_fields/renewal", "invalid_date")]
    updated = await world.update_contact.execute(
        UpdateContactCommand(
            world.admin(), contact.id, {"custom_fields": {"renewal": "2027-01-01", "plan": None}}
        )
    )
    assert updated.custom_fields == {"renewal": "2027-01-01"}
    assert len(world.store.state.contacts) == 1


async def test_archiving_hides_values_without_losing_them(world: World) -> None:
    plan = await world.define("plan", "text")
    await world.define("score", "number")
    contact = await world.contact(first_name="Ada", custom_fields={"plan": "pro", "score": 3})
    admin = world.admin()
    await world.update_field.execute(
        cf.UpdateCustomFieldCommand(admin, plan.id, {"archived": True})
    )
    assert (await world.get_contact.execute(admin, contact.id)).custom_fields == {"score": 3}
    [listed] = (await world.list_contacts.execute(admin, PageRequest())).items
    assert listed.custom_fields == {"score": 3}
    assert world.store.state.contacts[contact.id].custom_fields == {"plan": "pro", "score": 3}
    with pytest.raises(InvalidInput) as excinfo:
        await world.update_contact.execute(
            UpdateContactCommand(admin, contact.id, {"custom_fields": {"plan": "x"}})
        )
    assert errors_of(excinfo) == [("/custom_fields/plan", "field_archived")]
    # Other writes keep the hidden value and do not show it.
    updated = await world.update_contact.execute(
        UpdateContactCommand(admin, contact.id, {"custom_fields": {"score": 4}})
    )
    assert updated.custom_fields == {"score": 4}
    assert world.store.state.contacts[contact.id].custom_fields == {"plan": "pro", "score": 4}
    await world.update_field.execute(
        cf.UpdateCustomFieldCommand(admin, plan.id, {"archived": False}, if_match=2)
    )
    assert (await world.get_contact.execute(admin, contact.id)).custom_fields == {
        "plan": "pro",
        "score": 4,
    }


async def test_keys_are_unique_per_object_type(world: World) -> None:
    await world.define("source", "text")
    with pytest.raises(CustomFieldKeyTaken):
        await world.define("source", "number")
    deal = await world.create_field.execute(
        world.admin(), {"object_type": "deal", "key": "source", "label": "S", "field_type": "text"}
    )
    admin = world.admin()
    page = await world.list_fields.execute(admin, PageRequest(), ObjectType.DEAL)
    assert [f.id for f in page.items] == [deal.id]
    assert len((await world.list_fields.execute(admin, PageRequest())).items) == 2


async def test_members_read_the_schema_but_only_admins_manage_it(world: World) -> None:
    f = await world.define("source", "text")
    member = world.member()
    assert (await world.get_field.execute(member, f.id)).key == "source"
    with pytest.raises(PermissionDenied):
        await world.create_field.execute(
            member, {"object_type": "contact", "key": "x", "label": "X", "field_type": "text"}
        )
    with pytest.raises(PermissionDenied):
        await world.update_field.execute(cf.UpdateCustomFieldCommand(member, f.id, {"label": "Y"}))
    with pytest.raises(PermissionDenied):
        await world.create_tag.execute(member, {"name": "vip"})
    read_only_key = Principal(
        world.workspace_id, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.CONTACTS_READ})
    )
    assert len((await world.list_tags.execute(read_only_key, PageRequest())).items) == 0
    with pytest.raises(PermissionDenied):
        await world.create_tag.execute(read_only_key, {"name": "vip"})
    assert world.store.state.tags == {}


async def test_another_workspace_sees_no_field_and_no_tag(world: World) -> None:
    f = await world.define("source", "text")
    tag = await world.create_tag.execute(world.admin(), {"name": "vip"})
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(CustomFieldNotFound):
        await world.get_field.execute(stranger, f.id)
    with pytest.raises(CustomFieldNotFound):
        await world.update_field.execute(
            cf.UpdateCustomFieldCommand(stranger, f.id, {"label": "x"})
        )
    with pytest.raises(TagNotFound):
        await world.update_tag.execute(cf.UpdateTagCommand(stranger, tag.id, {"name": "x"}))
    with pytest.raises(TagNotFound):
        await world.delete_tag.execute(stranger, tag.id, None)
    # A contact in another workspace with the same field key is unknown there.
    with pytest.raises(InvalidInput):
        await world.create_contact.execute(
            CreateContactCommand(stranger, {"first_name": "E", "custom_fields": {"source": "x"}})
        )
    assert world.tag_names() == ["vip"]


async def test_writing_a_record_adds_its_tags_to_the_catalogue(world: World) -> None:
    await world.create_tag.execute(world.admin(), {"name": "vip", "color": "#ff0000"})
    contact = await world.contact(first_name="Ada", tags=["VIP", "emea"])
    assert world.tag_names() == ["emea", "vip"]
    await world.update_contact.execute(
        UpdateContactCommand(world.admin(), contact.id, {"tags": ["apac"]})
    )
    assert world.tag_names() == ["apac", "emea", "vip"]
    colors = {t.name: t.color for t in world.store.state.tags.values()}
    assert colors == {"apac": None, "emea": None, "vip": "#ff0000"}
    with pytest.raises(TagNameTaken):
        await world.create_tag.execute(world.admin(), {"name": " Vip"})


async def test_rename_and_delete_reach_every_record(world: World) -> None:
    admin = world.admin()
    ada = await world.contact(first_name="Ada", tags=["vip", "emea"])
    eve = await world.contact(first_name="Eve", tags=["emea"])
    [vip] = [t for t in world.store.state.tags.values() if t.name == "vip"]
    [emea] = [t for t in world.store.state.tags.values() if t.name == "emea"]
    world.clock.advance(minutes=1)
    renamed = await world.update_tag.execute(
        cf.UpdateTagCommand(admin, vip.id, {"name": "Key Account"}, if_match=1)
    )
    assert (renamed.name, renamed.version) == ("key account", 2)
    stored = world.store.state.contacts
    assert stored[ada.id].tags == ("key account", "emea")
    assert stored[ada.id].version == 2
    assert stored[eve.id].tags == ("emea",)
    assert stored[eve.id].version == 1
    with pytest.raises(TagNameTaken):
        await world.update_tag.execute(cf.UpdateTagCommand(admin, vip.id, {"name": "emea"}))
    with pytest.raises(VersionConflict):
        await world.delete_tag.execute(admin, emea.id, 7)
    await world.delete_tag.execute(admin, emea.id, 1)
    stored = world.store.state.contacts
    assert (stored[ada.id].tags, stored[eve.id].tags) == (("key account",), ())
    assert world.tag_names() == ["key account"]
    with pytest.raises(TagNotFound):
        await world.get_tag.execute(admin, emea.id)


async def test_contacts_filter_by_every_tag_given(world: World) -> None:
    admin = world.admin()
    ada = await world.contact(first_name="Ada", tags=["vip", "emea"])
    eve = await world.contact(first_name="Eve", tags=["emea"])
    await world.contact(first_name="Bob")

    async def names(*tags: str, limit: int = 50) -> list[str | None]:
        page = await world.list_contacts.execute(admin, PageRequest(limit), tags)
        return [c.first_name for c in page.items]

    assert await names("EMEA") == ["Eve", "Ada"]
    assert await names("emea", "vip") == ["Ada"]
    assert await names("nope") == []
    first = await world.list_contacts.execute(admin, PageRequest(1), ("emea",))
    assert [c.id for c in first.items] == [eve.id]
    assert first.next is not None
    rest = await world.list_contacts.execute(admin, PageRequest(1, first.next), ("emea",))
    assert ([c.id for c in rest.items], rest.next) == ([ada.id], None)


def _company(workspace_id: UUID, tags: tuple[str, ...]) -> Company:
    return Company(
        uuid4(), workspace_id, "Acme", None, None, None, None, None, None, None, tags, {}, NOW, NOW
    )


def _deal(workspace_id: UUID, tags: tuple[str, ...]) -> Deal:
    return Deal(
        uuid4(), workspace_id, "Renewal", None, None, uuid4(), uuid4(), DealStatus.OPEN, None,
        None, None, tags, {}, NOW, NOW,
    )  # fmt: skip


async def test_rename_and_delete_reach_companies_and_deals_in_memory(world: World) -> None:
    admin = world.admin()
    vip = await world.create_tag.execute(admin, {"name": "vip"})
    state = world.store.state
    company = _company(world.workspace_id, ("vip", "emea"))
    state.companies[company.id] = company
    for deal in (_deal(world.workspace_id, ("vip", "emea")), _deal(uuid4(), ("vip",))):
        state.deals[deal.id] = deal
    world.clock.advance(minutes=5)
    await world.update_tag.execute(cf.UpdateTagCommand(admin, vip.id, {"name": "gold"}))
    state = world.store.state
    records: list[Company | Deal] = [*state.companies.values(), *state.deals.values()]
    assert sorted((r.tags, r.version) for r in records) == [
        (("gold", "emea"), 2),
        (("gold", "emea"), 2),
        (("vip",), 1),
    ]
    assert {r.updated_at for r in records if r.version == 2} == {world.clock.now()}
    await world.delete_tag.execute(admin, vip.id, None)
    records = [*world.store.state.companies.values(), *world.store.state.deals.values()]
    assert sorted(r.tags for r in records) == [("emea",), ("emea",), ("vip",)]
