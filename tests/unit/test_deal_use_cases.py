"""Pipelines, stages and deals on the memory adapters: every rule of the deal slice."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.deals import InMemoryDealReader, InMemoryPipelineReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    CompanyNotFound,
    ContactNotFound,
    DealNotFound,
    DefaultPipelineRequired,
    InvalidInput,
    PipelineHasDeals,
    PipelineNotFound,
    StageHasDeals,
    StageNotFound,
    StageNotInPipeline,
    VersionConflict,
)
from crm.domain.model.deal import Deal, LinkedObject
from crm.domain.model.permissions import ActorKind, Principal, Role, RoleForbids, Scope
from crm.domain.model.pipeline import DEFAULT_STAGES, Pipeline, StageKind
from crm.domain.model.workspace import ApiKeySecrets, Member, User
from crm.domain.pagination import PageRequest, SortOrder
from crm.domain.use_cases import custom_fields as cf
from crm.domain.use_cases import deals as d
from crm.domain.use_cases import pipelines as p
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.deal_links import LinkCommand
from crm.domain.use_cases.sales import SalesUseCases
from crm.ports.deals import DealFilter

OLDEST = PageRequest(50, None, SortOrder.OLDEST_FIRST)


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids = Uuid7Generator()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        self.u = SalesUseCases.build(
            uow,
            self.clock,
            ids,
            InMemoryPipelineReader(self.store),
            InMemoryDealReader(self.store),
            LibPhoneNumbers("US"),
        )
        self.create_workspace = CreateWorkspace(uow, self.clock, ids, ApiKeySecrets(b"k"))
        self.create_contact = CreateContact(uow, self.clock, ids, LibPhoneNumbers())
        self.create_field = cf.CreateCustomField(uow, self.clock, ids)

    async def workspace(self) -> Principal:
        made = await self.create_workspace.execute(CreateWorkspaceCommand("Acme"))
        return Principal(
            made.workspace.id, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.ADMIN})
        )

    async def default(self, who: Principal) -> Pipeline:
        pipelines = (await self.u.list_pipelines.execute(who, OLDEST)).items
        return next(x for x in pipelines if x.is_default)

    async def define_field(self, who: Principal, key: str, field_type: str) -> None:
        raw = {"object_type": "deal", "key": key, "label": key, "field_type": field_type}
        await self.create_field.execute(who, raw)

    async def deal(self, who: Principal, **fields: Any) -> Deal:
        pipeline_id, stage_id = fields.pop("pipeline_id", None), fields.pop("stage_id", None)
        fields.setdefault("name", "Big deal")
        return await self.u.create_deal.execute(
            d.CreateDealCommand(who, fields, pipeline_id, stage_id)
        )

    async def move(self, who: Principal, deal: Deal, stage_id: UUID) -> Deal:
        return await self.u.move_deal.execute(d.MoveDealCommand(who, deal.id, stage_id))

    async def history(self, who: Principal, deal: Deal) -> list[tuple[UUID | None, UUID]]:
        page = await self.u.stage_history.execute(who, deal.id, OLDEST)
        return [(h.from_stage_id, h.to_stage_id) for h in page.items]

    async def pipeline(self, who: Principal, *stages: dict[str, Any], **kw: Any) -> Pipeline:
        specs = list(stages) or [{"name": "New"}, {"name": "Won", "kind": "won"}]
        cmd = p.CreatePipelineCommand(
            who, kw.get("name", "Renewals"), specs, kw.get("is_default", False)
        )
        return await self.u.create_pipeline.execute(cmd)

    def topics(self) -> list[str]:
        return [e.topic for e in self.store.state.outbox]


@pytest.fixture
def world() -> World:
    return World()


async def test_a_new_workspace_has_the_default_sales_pipeline(world: World) -> None:
    who = await world.workspace()
    pipeline = await world.default(who)
    assert (pipeline.name, pipeline.is_default) == ("Sales pipeline", True)
    assert [(s.name, s.probability, s.kind, s.position) for s in pipeline.stages] == [
        (n, pr, k, i) for i, (n, pr, k) in enumerate(DEFAULT_STAGES)
    ]


async def test_a_deal_without_a_place_starts_in_the_first_open_stage(world: World) -> None:
    who = await world.workspace()
    first = (await world.default(who)).stages[0]
    deal = await world.deal(who, amount_minor=1250, currency="eur")
    assert (deal.pipeline_id, deal.stage_id, deal.status, deal.closed_at) == (
        (await world.default(who)).id,
        first.id,
        StageKind.OPEN,
        None,
    )
    assert deal.currency == "EUR"
    assert await world.history(who, deal) == [(None, first.id)]
    assert world.topics()[-1] == "deal.created"


async def test_status_and_closed_at_follow_the_stage_kind(world: World) -> None:
    who = await world.workspace()
    stages = (await world.default(who)).stages
    open_, won, lost = stages[0], stages[5], stages[6]
    deal = await world.deal(who)
    world.clock.advance(minutes=1)
    won_deal = await world.move(who, deal, won.id)
    assert (won_deal.status, won_deal.closed_at) == (StageKind.WON, world.clock.now())
    closed_at = world.clock.now()
    world.clock.advance(minutes=1)
    lost_deal = await world.move(who, won_deal, lost.id)
    assert (lost_deal.status, lost_deal.closed_at) == (StageKind.LOST, world.clock.now())
    assert lost_deal.closed_at != closed_at
    reopened = await world.move(who, lost_deal, open_.id)
    assert (reopened.status, reopened.closed_at, reopened.version) == (StageKind.OPEN, None, 4)
    assert await world.history(who, deal) == [
        (None, open_.id),
        (open_.id, won.id),
        (won.id, lost.id),
        (lost.id, open_.id),
    ]
    moved = [e for e in world.store.state.outbox if e.topic == "deal.moved"]
    assert moved[0].payload == {
        "pipeline_id": str(deal.pipeline_id),
        "from_stage_id": str(open_.id),
        "to_stage_id": str(won.id),
        "from_status": "open",
        "to_status": "won",
    }


async def test_created_in_a_won_stage_it_is_closed_at_once(world: World) -> None:
    who = await world.workspace()
    won = (await world.default(who)).stages[5]
    deal = await world.deal(who, stage_id=won.id)
    assert (deal.status, deal.closed_at) == (StageKind.WON, world.clock.now())


async def test_moving_to_the_same_stage_changes_nothing(world: World) -> None:
    who = await world.workspace()
    deal = await world.deal(who)
    same = await world.move(who, deal, deal.stage_id)
    assert same.version == 1
    assert len(await world.history(who, deal)) == 1
    assert "deal.moved" not in world.topics()


async def test_a_stage_of_another_pipeline_or_workspace_is_refused(world: World) -> None:
    who, other = await world.workspace(), await world.workspace()
    renewals = await world.pipeline(who)
    deal = await world.deal(who)
    theirs = (await world.default(other)).stages[1]
    for stage_id in (renewals.stages[0].id, theirs.id, uuid4()):
        with pytest.raises(StageNotInPipeline) as excinfo:
            await world.move(who, deal, stage_id)
        assert excinfo.value.errors[0].field == "/stage_id"
        with pytest.raises(StageNotInPipeline):
            await world.deal(who, stage_id=stage_id)
    with pytest.raises(StageNotInPipeline) as excinfo:
        await world.deal(who, pipeline_id=(await world.default(other)).id)
    assert excinfo.value.errors[0].field == "/pipeline_id"
    assert (await world.u.get_deal.execute(who, deal.id)).version == 1
    in_renewals = await world.deal(who, pipeline_id=renewals.id)
    assert in_renewals.stage_id == renewals.stages[0].id


@pytest.mark.parametrize(
    ("fields", "pointer", "code"),
    [
        ({"amount_minor": 100}, "/currency", "amount_needs_currency"),
        ({"currency": "EUR"}, "/amount_minor", "amount_needs_currency"),
        ({"amount_minor": 100, "currency": "XYZ"}, "/currency", "invalid_currency"),
        ({"amount_minor": 100, "currency": "HRK"}, "/currency", "invalid_currency"),
        ({"amount_minor": -1, "currency": "EUR"}, "/amount_minor", "out_of_range"),
        ({"amount_minor": 1.5, "currency": "EUR"}, "/amount_minor", "out_of_range"),
        ({"name": "  "}, "/name", "required"),
        ({"expected_close_date": "31/12/2026"}, "/expected_close_date", "invalid_date"),
    ],
)
async def test_bad_deal_fields_are_named(
    world: World, fields: dict[str, Any], pointer: str, code: str
) -> None:
    who = await world.workspace()
    with pytest.raises(InvalidInput) as excinfo:
        await world.deal(who, **fields)
    assert [(e.field, e.code) for e in excinfo.value.errors] == [(pointer, code)]
    assert world.store.state.deals == {}


async def test_currencies_are_the_iso_4217_list(world: World) -> None:
    who = await world.workspace()
    for code in ("USD", "JPY", "KWD", "CLF", "XOF", "CHF"):
        assert (await world.deal(who, amount_minor=1, currency=code)).currency == code


async def test_update_keeps_amount_and_currency_together(world: World) -> None:
    who = await world.workspace()
    deal = await world.deal(who, amount_minor=500, currency="USD")
    with pytest.raises(InvalidInput):
        await world.u.update_deal.execute(d.UpdateDealCommand(who, deal.id, {"currency": None}))
    cleared = await world.u.update_deal.execute(
        d.UpdateDealCommand(who, deal.id, {"currency": None, "amount_minor": None}, if_match=1)
    )
    assert (cleared.amount_minor, cleared.currency, cleared.version) == (None, None, 2)
    with pytest.raises(VersionConflict):
        await world.u.update_deal.execute(
            d.UpdateDealCommand(who, deal.id, {"name": "x"}, if_match=1)
        )
    with pytest.raises(InvalidInput) as excinfo:
        await world.u.update_deal.execute(
            d.UpdateDealCommand(who, deal.id, {"stage_id": str(uuid4())})
        )
    assert excinfo.value.errors[0].code == "unknown_field"
    event = world.store.state.outbox[-1]
    assert event.topic == "deal.updated"
    assert event.payload["changes"]["amount_minor"] == {"old": 500, "new": None}


async def test_a_stage_with_deals_is_deleted_only_with_its_deals_moved(world: World) -> None:
    who = await world.workspace()
    pipeline = await world.default(who)
    first, second = pipeline.stages[0], pipeline.stages[1]
    deals = [await world.deal(who) for _ in range(2)]
    with pytest.raises(StageHasDeals):
        await world.u.delete_stage.execute(p.DeleteStageCommand(who, pipeline.id, first.id))
    for target in (first.id, uuid4(), (await world.pipeline(who)).stages[0].id):
        with pytest.raises(StageNotInPipeline):
            await world.u.delete_stage.execute(
                p.DeleteStageCommand(who, pipeline.id, first.id, target)
            )
    assert len((await world.default(who)).stages) == 7
    after = await world.u.delete_stage.execute(
        p.DeleteStageCommand(who, pipeline.id, first.id, move_deals_to=second.id)
    )
    assert next(s.name for s in after.stages) == "Qualified to buy"
    assert [s.position for s in after.stages] == list(range(6))
    for deal in deals:
        moved = await world.u.get_deal.execute(who, deal.id)
        assert (moved.stage_id, moved.version) == (second.id, 2)
        assert await world.history(who, deal) == [(None, first.id), (first.id, second.id)]
    assert world.topics().count("deal.moved") == 2
    assert world.topics()[-1] == "pipeline.updated"


async def test_deals_moved_into_a_won_stage_close(world: World) -> None:
    who = await world.workspace()
    pipeline = await world.default(who)
    deal = await world.deal(who)
    world.clock.advance(hours=1)
    await world.u.delete_stage.execute(
        p.DeleteStageCommand(who, pipeline.id, pipeline.stages[0].id, pipeline.stages[5].id)
    )
    moved = await world.u.get_deal.execute(who, deal.id)
    assert (moved.status, moved.closed_at) == (StageKind.WON, world.clock.now())


async def test_an_empty_stage_is_deleted_and_the_last_open_one_kept(world: World) -> None:
    who = await world.workspace()
    renewals = await world.pipeline(who)
    new, won = renewals.stages
    with pytest.raises(InvalidInput) as excinfo:
        await world.u.delete_stage.execute(p.DeleteStageCommand(who, renewals.id, new.id))
    assert excinfo.value.errors[0].code == "open_stage_required"
    with pytest.raises(InvalidInput):
        await world.u.update_stage.execute(
            p.UpdateStageCommand(who, renewals.id, new.id, {"kind": "lost"})
        )
    after = await world.u.delete_stage.execute(p.DeleteStageCommand(who, renewals.id, won.id))
    assert [s.name for s in after.stages] == ["New"]
    with pytest.raises(StageNotFound):
        await world.u.delete_stage.execute(p.DeleteStageCommand(who, renewals.id, won.id))


async def test_pipelines_need_an_open_stage_and_distinct_names(world: World) -> None:
    who = await world.workspace()
    with pytest.raises(InvalidInput) as excinfo:
        await world.pipeline(who, {"name": "Won", "kind": "won"})
    assert excinfo.value.errors[0].code == "open_stage_required"
    with pytest.raises(InvalidInput) as excinfo:
        await world.pipeline(who, {"name": "A"}, {"name": " a "})
    assert excinfo.value.errors[0].code == "duplicate_name"
    with pytest.raises(InvalidInput) as excinfo:
        await world.pipeline(who, {"name": "A", "probability": 101})
    assert excinfo.value.errors[0].field == "/stages/0/probability"
    made = await world.pipeline(
        who, {"name": "A"}, {"name": "B", "kind": "won"}, {"name": "C", "kind": "lost"}
    )
    assert [s.probability for s in made.stages] == [0, 100, 0]


async def test_reorder_takes_exactly_every_stage_once(world: World) -> None:
    who = await world.workspace()
    pipeline = await world.default(who)
    ids = [s.id for s in pipeline.stages]
    for bad, code in (
        (ids[:-1], "missing_stages"),
        ([*ids, ids[0]], "duplicate"),
        ([*ids[:-1], uuid4()], "unknown_stage"),
    ):
        with pytest.raises(InvalidInput) as excinfo:
            await world.u.reorder_stages.execute(p.ReorderStagesCommand(who, pipeline.id, bad))
        assert code in [e.code for e in excinfo.value.errors]
    done = await world.u.reorder_stages.execute(p.ReorderStagesCommand(who, pipeline.id, ids[::-1]))
    assert [s.id for s in done.stages] == ids[::-1]
    assert [s.position for s in done.stages] == list(range(7))
    again = await world.default(who)
    assert ([s.id for s in again.stages], again.version) == (ids[::-1], 2)


async def test_the_kind_of_a_stage_with_deals_does_not_change(world: World) -> None:
    who = await world.workspace()
    pipeline = await world.default(who)
    await world.deal(who)
    change = p.UpdateStageCommand(who, pipeline.id, pipeline.stages[0].id, {"kind": "won"})
    with pytest.raises(StageHasDeals):
        await world.u.update_stage.execute(change)
    _, stage = await world.u.update_stage.execute(
        p.UpdateStageCommand(
            who, pipeline.id, pipeline.stages[0].id, {"probability": 25, "name": "Met"}
        )
    )
    assert (stage.name, stage.probability) == ("Met", 25)


async def test_adding_a_stage_at_a_position(world: World) -> None:
    who = await world.workspace()
    pipeline = await world.default(who)
    after, stage = await world.u.add_stage.execute(
        p.AddStageCommand(who, pipeline.id, {"name": "Demo", "probability": 50}, position=1)
    )
    assert [s.name for s in after.stages][:3] == [
        "Appointment scheduled",
        "Demo",
        "Qualified to buy",
    ]
    assert stage.position == 1


async def test_the_default_pipeline_moves_but_never_disappears(world: World) -> None:
    who = await world.workspace()
    sales = await world.default(who)
    with pytest.raises(DefaultPipelineRequired):
        await world.u.update_pipeline.execute(
            p.UpdatePipelineCommand(who, sales.id, {"is_default": False})
        )
    with pytest.raises(DefaultPipelineRequired):
        await world.u.delete_pipeline.execute(p.DeletePipelineCommand(who, sales.id))
    renewals = await world.pipeline(who, is_default=True)
    assert not (await world.u.get_pipeline.execute(who, sales.id)).is_default
    deal = await world.deal(who)
    assert deal.pipeline_id == renewals.id
    await world.u.update_pipeline.execute(
        p.UpdatePipelineCommand(who, sales.id, {"is_default": True})
    )
    with pytest.raises(PipelineHasDeals):
        await world.u.delete_pipeline.execute(p.DeletePipelineCommand(who, renewals.id))
    await world.u.delete_deal.execute(d.DeleteDealCommand(who, deal.id))
    await world.u.delete_pipeline.execute(p.DeletePipelineCommand(who, renewals.id))
    with pytest.raises(PipelineNotFound):
        await world.u.get_pipeline.execute(who, renewals.id)
    assert [x.is_default for x in (await world.u.list_pipelines.execute(who, OLDEST)).items] == [
        True
    ]


async def test_members_read_pipelines_but_do_not_change_them(world: World) -> None:
    who = await world.workspace()
    member = Principal(who.workspace_id, uuid4(), ActorKind.USER, role=Role.MEMBER)
    sales = await world.default(who)
    assert (await world.u.get_pipeline.execute(member, sales.id)).id == sales.id
    with pytest.raises(RoleForbids):
        await world.u.update_pipeline.execute(
            p.UpdatePipelineCommand(member, sales.id, {"name": "X"})
        )
    reader = Principal(
        who.workspace_id, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.CONTACTS_READ})
    )
    assert (await world.u.get_pipeline.execute(reader, sales.id)).id == sales.id


async def test_members_delete_only_their_own_deals(world: World) -> None:
    who = await world.workspace()
    user = User(uuid4(), "rep@x.io", "Rep", world.clock.now())
    async with InMemoryUnitOfWork(world.store) as uow:
        await uow.users.add(user)
        await uow.members.add(Member(who.workspace_id, user.id, Role.MEMBER, world.clock.now()))
        await uow.commit()
    member = Principal(who.workspace_id, user.id, ActorKind.USER, role=Role.MEMBER)
    theirs = await world.deal(who)
    mine = await world.deal(member, owner_id=user.id)
    with pytest.raises(RoleForbids):
        await world.u.delete_deal.execute(d.DeleteDealCommand(member, theirs.id))
    await world.u.delete_deal.execute(d.DeleteDealCommand(member, mine.id))
    with pytest.raises(DealNotFound):
        await world.u.get_deal.execute(who, mine.id)
    assert world.topics()[-1] == "deal.deleted"


async def test_another_workspace_sees_no_deal_or_pipeline(world: World) -> None:
    a, b = await world.workspace(), await world.workspace()
    deal = await world.deal(a)
    sales = await world.default(a)
    with pytest.raises(DealNotFound):
        await world.u.get_deal.execute(b, deal.id)
    with pytest.raises(DealNotFound):
        await world.move(b, deal, (await world.default(b)).stages[1].id)
    with pytest.raises(DealNotFound):
        await world.u.stage_history.execute(b, deal.id, OLDEST)
    with pytest.raises(PipelineNotFound):
        await world.u.summarize_pipeline.execute(b, sales.id)
    with pytest.raises(PipelineNotFound):
        await world.u.delete_stage.execute(p.DeleteStageCommand(b, sales.id, sales.stages[0].id))
    assert (await world.u.list_deals.execute(b, OLDEST, DealFilter())).items == []


async def test_lists_filter_by_pipeline_stage_and_status(world: World) -> None:
    who = await world.workspace()
    sales = await world.default(who)
    renewals = await world.pipeline(who)
    a = await world.deal(who)
    b = await world.deal(who, stage_id=sales.stages[5].id)
    c = await world.deal(who, pipeline_id=renewals.id)

    async def ids(**kw: Any) -> list[UUID]:
        page = await world.u.list_deals.execute(who, OLDEST, DealFilter(**kw))
        return [x.id for x in page.items]

    assert await ids() == [a.id, b.id, c.id]
    assert await ids(pipeline_id=sales.id) == [a.id, b.id]
    assert await ids(stage_id=sales.stages[5].id) == [b.id]
    assert await ids(status=StageKind.OPEN) == [a.id, c.id]


async def test_summary_counts_and_sums_per_stage_and_currency(world: World) -> None:
    who = await world.workspace()
    sales = await world.default(who)
    await world.deal(who, amount_minor=100, currency="EUR")
    await world.deal(who, amount_minor=250, currency="EUR")
    await world.deal(who, amount_minor=7, currency="USD")
    await world.deal(who)
    await world.deal(who, stage_id=sales.stages[5].id, amount_minor=9, currency="JPY")
    summary = await world.u.summarize_pipeline.execute(who, sales.id)
    assert [s.stage.id for s in summary] == [s.id for s in sales.stages]
    first = summary[0]
    assert first.deal_count == 4
    assert [(t.currency, t.deal_count, t.amount_minor) for t in first.totals] == [
        ("EUR", 2, 350),
        ("USD", 1, 7),
    ]
    assert [(s.deal_count, len(s.totals)) for s in summary[1:]] == [(0, 0)] * 4 + [(1, 1), (0, 0)]


async def test_links_are_idempotent_and_scoped(world: World) -> None:
    who, other = await world.workspace(), await world.workspace()
    deal = await world.deal(who)
    ada = await world.create_contact.execute(CreateContactCommand(who, {"first_name": "Ada"}))
    theirs = await world.create_contact.execute(CreateContactCommand(other, {"first_name": "Eve"}))
    link = LinkCommand(who, deal.id, LinkedObject.CONTACT, ada.id)
    first = await world.u.link_deal.execute(link)
    world.clock.advance(minutes=1)
    again = await world.u.link_deal.execute(link)
    assert (first.created, again.created) == (True, False)
    assert again.linked_at == first.linked_at
    with pytest.raises(ContactNotFound):
        await world.u.link_deal.execute(LinkCommand(who, deal.id, LinkedObject.CONTACT, theirs.id))
    with pytest.raises(CompanyNotFound):
        await world.u.link_deal.execute(LinkCommand(who, deal.id, LinkedObject.COMPANY, uuid4()))
    with pytest.raises(DealNotFound):
        await world.u.link_deal.execute(
            LinkCommand(other, deal.id, LinkedObject.CONTACT, theirs.id)
        )
    contacts = await world.u.list_deal_contacts.execute(who, deal.id, OLDEST)
    assert [x.item.id for x in contacts.items] == [ada.id]
    deals = await world.u.list_deals_of.execute(who, LinkedObject.CONTACT, ada.id, OLDEST)
    assert [x.item.id for x in deals.items] == [deal.id]
    with pytest.raises(ContactNotFound):
        await world.u.list_deals_of.execute(other, LinkedObject.CONTACT, ada.id, OLDEST)
    assert await world.u.unlink_deal.execute(link) is True
    assert await world.u.unlink_deal.execute(link) is False
    assert (await world.u.list_deal_contacts.execute(who, deal.id, OLDEST)).items == []
    assert world.topics().count("deal.linked") == 1
    assert world.topics().count("deal.unlinked") == 1


async def test_stage_changes_keep_names_distinct_and_an_open_stage(world: World) -> None:
    who = await world.workspace()
    renewals = await world.pipeline(who)
    new, won = renewals.stages
    rename = p.UpdateStageCommand(who, renewals.id, won.id, {"name": "NEW"})
    with pytest.raises(InvalidInput) as excinfo:
        await world.u.update_stage.execute(rename)
    assert [(e.field, e.code) for e in excinfo.value.errors] == [("/name", "duplicate_name")]
    close = p.UpdateStageCommand(who, renewals.id, new.id, {"kind": "lost"})
    with pytest.raises(InvalidInput) as excinfo:
        await world.u.update_stage.execute(close)
    assert [(e.field, e.code) for e in excinfo.value.errors] == [("/kind", "open_stage_required")]
    add = p.AddStageCommand(who, renewals.id, {"name": "won"})
    with pytest.raises(InvalidInput) as excinfo:
        await world.u.add_stage.execute(add)
    assert excinfo.value.errors[0].field == "/name"
    again = await world.u.get_pipeline.execute(who, renewals.id)
    assert (again, world.topics().count("pipeline.updated")) == (renewals, 0)


async def test_custom_phone_values_are_normalized_like_contact_phones(world: World) -> None:
    who = await world.workspace()
    await world.define_field(who, "hotline", "phone")
    deal = await world.deal(who, custom_fields={"hotline": "(415) 555-0123"})
    assert deal.custom_fields == {"hotline": "+14155550123"}
    changed = await world.u.update_deal.execute(
        d.UpdateDealCommand(who, deal.id, {"custom_fields": {"hotline": "415 555 0199"}}, None)
    )
    assert changed.custom_fields == {"hotline": "+14155550199"}
