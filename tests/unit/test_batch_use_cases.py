"""Batch create, update and upsert on the memory adapters: per item, in order, nothing left
behind by a failed item, events only for the items written."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import PermissionDenied
from crm.domain.model.permissions import ActorKind, Principal, Role, Scope
from crm.domain.model.workspace import ApiKeySecrets, Member, User
from crm.domain.use_cases.batch import (
    BatchCommand,
    BatchCompanies,
    BatchContacts,
    BatchDeals,
    BatchOperation,
    ItemResult,
    ItemStatus,
)
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from tests.support.batch_results import company, contact, deal

CREATE, UPDATE, UPSERT = BatchOperation.CREATE, BatchOperation.UPDATE, BatchOperation.UPSERT
C, U, N, S, F = (
    ItemStatus.CREATED,
    ItemStatus.UPDATED,
    ItemStatus.UNCHANGED,
    ItemStatus.SKIPPED,
    ItemStatus.FAILED,
)


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        self.contacts = BatchContacts(uow, self.clock, ids, phones)
        self.companies = BatchCompanies(uow, self.clock, ids, phones)
        self.deals = BatchDeals(uow, self.clock, ids, phones)
        self.create_workspace = CreateWorkspace(uow, self.clock, ids, ApiKeySecrets(b"k"))

    async def workspace(self, *scopes: Scope) -> Principal:
        made = await self.create_workspace.execute(CreateWorkspaceCommand("Acme"))
        granted = frozenset(scopes or {Scope.ADMIN})
        return Principal(made.workspace.id, uuid4(), ActorKind.API_KEY, scopes=granted)

    async def run(
        self, who: Principal, op: BatchOperation, *items: dict[str, Any], **kw: Any
    ) -> list[ItemResult]:
        return await self.contacts.execute(BatchCommand(who, op, list(items), **kw))

    def events(self) -> list[tuple[str, Any]]:
        return [(e.topic, e.aggregate_id) for e in self.store.state.outbox]


@pytest.fixture
def world() -> World:
    return World()


def statuses(results: list[ItemResult]) -> list[ItemStatus]:
    return [r.status for r in results]


def codes(results: list[ItemResult]) -> list[str | None]:
    return [None if r.error is None else r.error.code for r in results]


async def test_create_writes_the_good_items_and_reports_each_bad_one(world: World) -> None:
    who = await world.workspace()
    before = len(world.store.state.outbox)
    results = await world.run(
        who,
        CREATE,
        {"first_name": "Ada", "emails": ["ada@x.io"]},
        {"first_name": "Bad", "emails": ["not-an-email"]},
        {"emails": 3},
        "not an object",  # type: ignore[arg-type]  # the wrong type is the input under test
        {"first_name": "Bo", "external_id": "  crm-7 "},
    )
    assert statuses(results) == [C, F, F, F, C]
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert results[1].error is not None
    assert results[1].error.errors[0].field == "/emails/0"
    assert results[2].error is not None
    assert results[2].error.errors[0].code == "wrong_type"
    assert contact(results[4]).external_id == "crm-7"
    assert len(world.store.state.contacts) == 2
    created = [("contact.created", r.record.id) for r in results if r.record]
    assert world.events()[before:] == created


async def test_update_items_apply_like_patch_and_fail_alone(world: World) -> None:
    who = await world.workspace()
    [ada, bo] = await world.run(
        who, CREATE, {"first_name": "Ada", "emails": ["a@x.io"]}, {"first_name": "Bo"}
    )
    results = await world.run(
        who,
        UPDATE,
        {"id": str(contact(ada).id), "if_match": 1, "job_title": "CTO"},
        {"id": str(contact(bo).id), "if_match": 7, "job_title": "CEO"},
        {"id": str(uuid4()), "job_title": "nobody"},
        {"job_title": "no id"},
        {"id": str(contact(bo).id), "first_name": "Bo"},
        {"id": str(contact(bo).id), "emails": ["a@x.io"]},
    )
    assert statuses(results) == [U, F, F, F, N, F]
    assert codes(results) == [
        None,
        "version_conflict",
        "contact_not_found",
        "validation_failed",
        None,
        "duplicate_in_batch",
    ]
    stored = world.store.state.contacts
    assert (stored[contact(ada).id].job_title, stored[contact(ada).id].version) == ("CTO", 2)
    assert stored[contact(bo).id].version == 1
    [event] = [e for e in world.store.state.outbox if e.topic == "contact.updated"]
    assert event.payload == {"changes": {"job_title": {"old": None, "new": "CTO"}}}


async def test_an_email_of_another_contact_fails_the_item(world: World) -> None:
    who = await world.workspace()
    [_ada, bo] = await world.run(who, CREATE, {"emails": ["a@x.io"]}, {"emails": ["b@x.io"]})
    results = await world.run(
        who, UPDATE, {"id": str(contact(bo).id), "emails": ["b@x.io", "A@x.io"]}
    )
    assert codes(results) == ["contact_email_taken"]
    assert results[0].error is not None
    assert results[0].error.errors[0].field == "/emails/1"
    assert world.store.state.contacts[contact(bo).id].emails == ("b@x.io",)


async def test_upsert_by_email_updates_the_match_and_creates_the_rest(world: World) -> None:
    who = await world.workspace()
    [ada] = await world.run(who, CREATE, {"first_name": "Ada", "emails": ["a@x.io"], "tags": ["x"]})
    results = await world.run(
        who,
        UPSERT,
        {"emails": ["new@x.io", "A@X.io"], "tags": ["y"]},
        {"emails": ["c@x.io"], "first_name": "Cy"},
        {"first_name": "No key"},
    )
    assert statuses(results) == [U, C, F]
    assert contact(results[0]).id == contact(ada).id
    # Lists replace, as a PATCH does.
    assert contact(results[0]).emails == ("new@x.io", "a@x.io")
    assert contact(results[0]).tags == ("y",)
    assert contact(results[0]).first_name == "Ada"
    assert results[2].error is not None
    assert results[2].error.errors[0].field == "/emails"


async def test_upsert_matching_two_contacts_is_ambiguous(world: World) -> None:
    who = await world.workspace()
    await world.run(who, CREATE, {"emails": ["a@x.io"]}, {"emails": ["b@x.io"]})
    results = await world.run(who, UPSERT, {"emails": ["a@x.io", "b@x.io"], "first_name": "?"})
    assert codes(results) == ["ambiguous_match"]


async def test_upsert_by_phone_matches_any_number_normalized(world: World) -> None:
    who = await world.workspace()
    [ada, _bo, _cy] = await world.run(
        who,
        CREATE,
        {"first_name": "Ada", "phones": ["+14155550100"]},
        {"first_name": "Bo", "phones": ["+14155550101"]},
        {"first_name": "Cy", "phones": ["+14155550101"]},
    )
    results = await world.run(
        who,
        UPSERT,
        {"phones": ["+1 (415) 555-0100"], "job_title": "CTO"},
        {"phones": ["+14155550101"], "job_title": "?"},
        {"phones": ["+14155550199"], "first_name": "Di"},
        {"phones": ["+1 415 555 0199"], "first_name": "Di again"},
        match_on="phone",
    )
    assert statuses(results) == [U, F, C, F]
    assert codes(results)[1] == "ambiguous_match"
    assert codes(results)[3] == "duplicate_in_batch"
    assert contact(results[0]).id == contact(ada).id


async def test_upsert_by_external_id_and_duplicates_in_the_batch(world: World) -> None:
    who = await world.workspace()
    [ada] = await world.run(who, CREATE, {"first_name": "Ada", "external_id": "e-1"})
    results = await world.run(
        who,
        UPSERT,
        {"external_id": "e-1", "first_name": "Ada L."},
        {"external_id": "e-1", "first_name": "again"},
        {"external_id": "e-2", "first_name": "Bo", "emails": ["b@x.io"]},
        {"external_id": "e-3", "first_name": "Bo twin", "emails": ["b@x.io"]},
        match_on="external_id",
    )
    assert statuses(results) == [U, F, C, F]
    assert codes(results) == [None, "duplicate_in_batch", None, "duplicate_in_batch"]
    assert contact(results[0]).id == contact(ada).id
    assert {c.external_id for c in world.store.state.contacts.values()} == {"e-1", "e-2"}


async def test_external_id_taken_names_the_holder(world: World) -> None:
    who = await world.workspace()
    [ada] = await world.run(who, CREATE, {"first_name": "Ada", "external_id": "e-1"})
    results = await world.run(who, CREATE, {"first_name": "Bo", "external_id": "e-1"})
    assert codes(results) == ["external_id_taken"]
    assert results[0].error is not None
    assert str(contact(ada).id) in results[0].error.detail


async def test_on_match_skip_leaves_the_match_alone(world: World) -> None:
    who = await world.workspace()
    await world.run(who, CREATE, {"first_name": "Ada", "emails": ["a@x.io"]})
    before = len(world.store.state.outbox)
    results = await world.run(
        who, UPSERT, {"emails": ["a@x.io"], "first_name": "Other"}, on_match="skip"
    )
    assert statuses(results) == [S]
    assert contact(results[0]).first_name == "Ada"
    assert len(world.store.state.outbox) == before


async def test_owner_must_be_a_member_and_custom_fields_follow_the_schema(world: World) -> None:
    who = await world.workspace()
    user = User(uuid4(), "m@x.io", None, world.clock.now())
    world.store.state.users[user.id] = user
    member = Member(who.workspace_id, user.id, Role.MEMBER, world.clock.now())
    world.store.state.members[(who.workspace_id, user.id)] = member
    results = await world.run(
        who,
        CREATE,
        {"first_name": "Ada", "owner_id": str(user.id), "tags": ["VIP"]},
        {"first_name": "Bo", "owner_id": str(uuid4())},
        {"first_name": "Cy", "owner_id": "not a uuid"},
        {"first_name": "Di", "custom_fields": {"undefined_key": 1}},
    )
    assert statuses(results) == [C, F, F, F]
    assert [r.error.errors[0].code for r in results[1:] if r.error] == [
        "owner_not_member",
        "wrong_type",
        "unknown_field",
    ]
    assert "vip" in {t.name for t in world.store.state.tags.values()}


async def test_a_caller_without_the_write_scope_is_refused_whole(world: World) -> None:
    who = await world.workspace(Scope.CONTACTS_READ)
    with pytest.raises(PermissionDenied):
        await world.run(who, CREATE, {"first_name": "Ada"})
    with pytest.raises(PermissionDenied):
        await world.companies.execute(BatchCommand(who, CREATE, [{"name": "Acme"}]))


async def test_update_of_another_workspaces_contact_is_not_found(world: World) -> None:
    a, b = await world.workspace(), await world.workspace()
    [ada] = await world.run(a, CREATE, {"first_name": "Ada"})
    results = await world.run(b, UPDATE, {"id": str(contact(ada).id), "first_name": "Eve"})
    assert codes(results) == ["contact_not_found"]


async def test_an_unknown_match_key_refuses_the_whole_batch(world: World) -> None:
    who = await world.workspace()
    with pytest.raises(Exception, match="matches on"):
        await world.run(who, UPSERT, {"first_name": "Ada"}, match_on="domain")


async def test_companies_upsert_on_the_normalized_domain(world: World) -> None:
    who = await world.workspace()
    run = world.companies.execute
    [acme] = await run(BatchCommand(who, CREATE, [{"name": "Acme", "domain": "acme.com"}]))
    results = await run(
        BatchCommand(
            who,
            UPSERT,
            [
                {"name": "Acme Inc", "domain": "https://www.ACME.com/about"},
                {"name": "Beta", "domain": "beta.io"},
                {"name": "Beta again", "domain": "beta.io"},
                {"name": "No domain"},
            ],
        )
    )
    assert statuses(results) == [U, C, F, F]
    assert company(results[0]).id == company(acme).id
    assert company(results[0]).name == "Acme Inc"
    assert codes(results)[2:] == ["duplicate_in_batch", "validation_failed"]
    taken = await run(BatchCommand(who, CREATE, [{"name": "Acme 2", "domain": "acme.com"}]))
    assert codes(taken) == ["company_domain_taken"]


async def test_deals_upsert_on_external_id_in_the_default_pipeline(world: World) -> None:
    who = await world.workspace()
    run = world.deals.execute
    [one] = await run(BatchCommand(who, CREATE, [{"name": "One", "external_id": "d-1"}]))
    results = await run(
        BatchCommand(
            who,
            UPSERT,
            [
                {"name": "One renamed", "external_id": "d-1", "amount_minor": 100},
                {"name": "Two", "external_id": "d-2", "amount_minor": 5, "currency": "EUR"},
                {"name": "Three", "external_id": "d-3", "stage_id": str(uuid4())},
                {"name": "Four", "external_id": "d-4", "amount_minor": "10"},
            ],
        )
    )
    assert statuses(results) == [F, C, F, F]
    assert codes(results) == [
        "validation_failed",
        None,
        "stage_not_in_pipeline",
        "validation_failed",
    ]
    assert results[0].error is not None
    assert results[0].error.errors[0].code == "amount_needs_currency"
    assert deal(results[1]).stage_id == deal(one).stage_id
    history = [h for h in world.store.state.deal_history if h.deal_id == deal(results[1]).id]
    assert [h.from_stage_id for h in history] == [None]
    updated = await run(
        BatchCommand(who, UPDATE, [{"id": str(deal(one).id), "stage_id": str(uuid4())}])
    )
    assert updated[0].error is not None
    assert updated[0].error.errors[0].code == "unknown_field"
