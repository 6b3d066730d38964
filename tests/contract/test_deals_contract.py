"""The deal slice's persistence ports (pipelines, deals, history, links, readers), one contract
run against the in-memory and the Postgres adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from crm.adapters.memory.deals import InMemoryDealReader, InMemoryPipelineReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.deal_readers import AsyncpgDealReader, AsyncpgPipelineReader
from crm.domain.errors import ContactNotFound, StageNotInPipeline, VersionConflict
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal, DealStatus, LinkedObject, LinkedTo, StageChange
from crm.domain.model.pipeline import Pipeline, Stage, StageKind, StageSpec
from crm.domain.model.workspace import Workspace
from crm.domain.pagination import Page, PageRequest, SortOrder
from crm.ports.deals import DealFilter, DealReader, PipelineReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import IDS, T0, contact, every_page
from tests.support.stores import postgres

OLDEST = PageRequest(50, None, SortOrder.OLDEST_FIRST)


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    pipelines: PipelineReader
    deals: DealReader


def pipeline(workspace_id: UUID, n: int = 0, *, is_default: bool = False) -> Pipeline:
    specs = [
        StageSpec("Lead", 10, StageKind.OPEN),
        StageSpec("Proposal", 60, StageKind.OPEN),
        StageSpec("Won", 100, StageKind.WON),
        StageSpec("Lost", 0, StageKind.LOST),
    ]
    at = T0 + timedelta(seconds=n)
    return Pipeline.create(
        IDS.new_id(), workspace_id, f"Funnel {n}", specs, IDS.new_id, at, is_default=is_default
    )


def deal(p: Pipeline, n: int = 0, stage: int = 0, **fields: Any) -> Deal:
    at = T0 + timedelta(seconds=n)
    values: dict[str, Any] = {
        "name": f"Deal {n}",
        "amount_minor": 1000 + n,
        "currency": "EUR",
        "pipeline_id": p.id,
        "stage_id": p.stages[stage].id,
        "status": p.stages[stage].kind,
        "owner_id": None,
        "expected_close_date": date(2027, 1, 31),
        "closed_at": None,
        "tags": ("renewal",),
        "custom_fields": {"source": "web"},
        "created_at": at,
        "updated_at": at,
    }
    values.update(fields)
    return Deal(IDS.new_id(), p.workspace_id, **values)


def company(workspace_id: UUID, name: str = "Acme") -> Company:
    return Company(
        IDS.new_id(), workspace_id, name, None, None, None, None, None, None, None, (), {}, T0, T0
    )


class DealsContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    async def workspace(self, subject: Subject) -> UUID:
        ws = Workspace(IDS.new_id(), "Acme", T0)
        async with subject.uow() as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        return ws.id

    async def add(self, subject: Subject, *objects: Pipeline | Deal) -> None:
        async with subject.uow() as uow:
            for o in objects:
                if isinstance(o, Pipeline):
                    await uow.pipelines.add(o)
                else:
                    await uow.deals.add(o)
            await uow.commit()

    async def test_a_pipeline_reads_back_equal_with_its_stages_in_order(
        self, subject: Subject
    ) -> None:
        ws, other = await self.workspace(subject), await self.workspace(subject)
        p = pipeline(ws, is_default=True)
        await self.add(subject, p)
        assert await subject.pipelines.get(ws, p.id) == p
        async with subject.uow() as uow:
            assert await uow.pipelines.get(ws, p.id) == p
            assert await uow.pipelines.get_for_update(ws, p.id) == p
            assert await uow.pipelines.get_default(ws) == p
            assert await uow.pipelines.get_default(other) is None
        assert await subject.pipelines.get(other, p.id) is None

    async def test_save_rewrites_the_stages_in_one_transaction(self, subject: Subject) -> None:
        ws = await self.workspace(subject)
        p = pipeline(ws)
        await self.add(subject, p)
        changed = replace(p, stages=list(p.stages))
        changed.reorder([s.id for s in p.stages][::-1])
        changed.remove_stage(changed.stages[0])
        changed.add_stage(Stage(IDS.new_id(), "Demo", 40, StageKind.OPEN, 0, T0), 1)
        changed.change_stage(changed.stages[0], {"name": "Negotiation", "probability": 70})
        changed.touch(T0 + timedelta(hours=1))
        async with subject.uow() as uow:
            await uow.pipelines.save(changed, expected_version=1)
            await uow.commit()
        assert await subject.pipelines.get(ws, p.id) == changed
        with pytest.raises(VersionConflict):
            async with subject.uow() as uow:
                await uow.pipelines.save(changed, expected_version=1)

    async def test_one_default_at_a_time(self, subject: Subject) -> None:
        ws = await self.workspace(subject)
        first, second = pipeline(ws, 0, is_default=True), pipeline(ws, 1)
        await self.add(subject, first, second)
        async with subject.uow() as uow:
            await uow.pipelines.clear_default(ws)
            second.is_default = True
            second.touch(T0)
            await uow.pipelines.save(second, expected_version=1)
            await uow.commit()
        page = await subject.pipelines.list(ws, OLDEST)
        assert [(x.id, x.is_default) for x in page.items] == [(first.id, False), (second.id, True)]

    async def test_pipeline_pages_cover_the_workspace_once(self, subject: Subject) -> None:
        ws, other = await self.workspace(subject), await self.workspace(subject)
        made = [pipeline(ws, n) for n in range(5)]
        await self.add(subject, *made, pipeline(other, 9))
        seen = await every_page(lambda page: subject.pipelines.list(ws, page), 2)
        assert [x.id for x in seen] == [x.id for x in made]

    async def test_a_deal_reads_back_equal(self, subject: Subject) -> None:
        ws, other = await self.workspace(subject), await self.workspace(subject)
        p = pipeline(ws)
        d = deal(p, stage=2, status=DealStatus.WON, closed_at=T0)
        await self.add(subject, p, d)
        assert await subject.deals.get(ws, d.id) == d
        async with subject.uow() as uow:
            assert await uow.deals.get_for_update(ws, d.id) == d
            assert await uow.deals.get(ws, d.id) == d
            assert await uow.deals.get(other, d.id) is None
        assert await subject.deals.get(other, d.id) is None
        bare = deal(p, 1, amount_minor=None, currency=None, tags=(), custom_fields={})
        bare = replace(bare, expected_close_date=None)
        await self.add(subject, bare)
        assert await subject.deals.get(ws, bare.id) == bare

    async def test_a_stale_save_is_refused_and_nothing_kept_without_commit(
        self, subject: Subject
    ) -> None:
        ws = await self.workspace(subject)
        p = pipeline(ws)
        d = deal(p)
        await self.add(subject, p, d)
        moved = replace(d)
        moved.move_to(p.stages[1], T0 + timedelta(minutes=1))
        async with subject.uow() as uow:
            await uow.deals.save(moved, expected_version=1)
        assert await subject.deals.get(ws, d.id) == d
        async with subject.uow() as uow:
            await uow.deals.save(moved, expected_version=1)
            await uow.commit()
        with pytest.raises(VersionConflict):
            async with subject.uow() as uow:
                await uow.deals.save(moved, expected_version=1)
        assert await subject.deals.get(ws, d.id) == moved

    async def test_deal_pages_cover_everything_once_with_filters(self, subject: Subject) -> None:
        ws, other = await self.workspace(subject), await self.workspace(subject)
        p, q = pipeline(ws, 0), pipeline(ws, 1)
        made = [deal(p if n % 2 else q, n, stage=n % 3) for n in range(7)]
        for d in made:
            stage = (p if d.pipeline_id == p.id else q).stage(d.stage_id)
            assert stage is not None
            d.status = stage.kind
        made[0].tags = ("vip", "renewal")
        await self.add(subject, p, q, *made, pipeline(other))
        for order in SortOrder:

            async def in_order(page: PageRequest, order: SortOrder = order) -> Page[Deal]:
                return await subject.deals.list(ws, replace(page, order=order), DealFilter())

            seen = await every_page(in_order, 3)
            expected = [d.id for d in made]
            assert [d.id for d in seen] == (
                expected[::-1] if order is SortOrder.NEWEST_FIRST else expected
            )
        cases = [
            (DealFilter(pipeline_id=p.id), [d for d in made if d.pipeline_id == p.id]),
            (
                DealFilter(stage_id=p.stages[1].id),
                [d for d in made if d.stage_id == p.stages[1].id],
            ),
            (DealFilter(status=DealStatus.WON), [d for d in made if d.status is DealStatus.WON]),
            (DealFilter(tags=("vip",)), [made[0]]),
        ]
        for where, expected_deals in cases:

            async def filtered(page: PageRequest, where: DealFilter = where) -> Page[Deal]:
                return await subject.deals.list(ws, page, where)

            seen = await every_page(filtered, 2)
            assert [d.id for d in seen] == [d.id for d in expected_deals], where

    async def test_history_reads_oldest_first_and_goes_with_the_deal(
        self, subject: Subject
    ) -> None:
        ws = await self.workspace(subject)
        p = pipeline(ws)
        d = deal(p)
        await self.add(subject, p, d)
        changes = [
            StageChange(
                IDS.new_id(),
                ws,
                d.id,
                None if n == 0 else p.stages[n - 1].id,
                p.stages[n].id,
                None,
                T0 + timedelta(minutes=n),
            )
            for n in range(4)
        ]
        async with subject.uow() as uow:
            await uow.deals.add_history(changes[2:])
            await uow.deals.add_history(changes[:2])
            await uow.commit()

        async def history(page: PageRequest) -> Page[StageChange]:
            found = await subject.deals.history(ws, d.id, page)
            assert found is not None
            return found

        seen = await every_page(history, 3)
        assert seen == changes
        assert await subject.deals.history(await self.workspace(subject), d.id, OLDEST) is None
        async with subject.uow() as uow:
            await uow.deals.remove(d)
            await uow.commit()
        assert await subject.deals.history(ws, d.id, OLDEST) is None

    async def test_move_all_moves_a_stage_s_deals_and_their_status(self, subject: Subject) -> None:
        ws = await self.workspace(subject)
        p = pipeline(ws)
        open_deal, lost_deal = (
            deal(p, 0, stage=0),
            deal(p, 1, stage=3, status=DealStatus.LOST, closed_at=T0),
        )
        elsewhere = deal(p, 2, stage=1)
        await self.add(subject, p, open_deal, lost_deal, elsewhere)
        now = T0 + timedelta(hours=1)
        async with subject.uow() as uow:
            assert await uow.deals.count_in(ws, p.id, p.stages[0].id) == 1
            assert await uow.deals.count_in(ws, p.id, None) == 3
            moved = await uow.deals.move_all(ws, p.stages[0].id, p.stages[2], now)
            assert moved == [(open_deal.id, DealStatus.OPEN)]
            moved = await uow.deals.move_all(ws, p.stages[3].id, p.stages[2], now)
            assert moved == [(lost_deal.id, DealStatus.LOST)]
            await uow.commit()
        won = await subject.deals.get(ws, open_deal.id)
        assert won is not None
        assert (won.stage_id, won.status, won.closed_at, won.version, won.updated_at) == (
            p.stages[2].id,
            DealStatus.WON,
            now,
            2,
            now,
        )
        relost = await subject.deals.get(ws, lost_deal.id)
        assert relost is not None
        assert (relost.status, relost.closed_at) == (DealStatus.WON, now)
        assert await subject.deals.get(ws, elsewhere.id) == elsewhere

    async def test_a_stage_is_deleted_with_its_deals_moved_in_the_same_transaction(
        self, subject: Subject
    ) -> None:
        ws = await self.workspace(subject)
        p = pipeline(ws)
        d = deal(p)
        await self.add(subject, p, d)
        async with subject.uow() as uow:
            loaded = await uow.pipelines.get_for_update(ws, p.id)
            assert loaded is not None
            loaded.remove_stage(loaded.stages[0])
            loaded.touch(T0)
            await uow.deals.move_all(ws, p.stages[0].id, loaded.stages[0], T0)
            await uow.pipelines.save(loaded, expected_version=1)
            await uow.commit()
        after = await subject.pipelines.get(ws, p.id)
        assert after is not None
        assert [s.name for s in after.stages] == ["Proposal", "Won", "Lost"]
        assert [s.position for s in after.stages] == [0, 1, 2]
        moved = await subject.deals.get(ws, d.id)
        assert moved is not None
        assert moved.stage_id == p.stages[1].id

    async def test_the_summary_counts_and_sums_per_stage_and_currency(
        self, subject: Subject
    ) -> None:
        ws = await self.workspace(subject)
        p = pipeline(ws)
        await self.add(
            subject,
            p,
            deal(p, 0, amount_minor=100),
            deal(p, 1, amount_minor=250),
            deal(p, 2, amount_minor=7, currency="USD"),
            deal(p, 3, amount_minor=None, currency=None),
            deal(p, 4, stage=2, amount_minor=9, currency="JPY", status=DealStatus.WON),
        )
        summary = await subject.pipelines.summary(ws, p.id)
        assert summary is not None
        assert [s.stage for s in summary] == p.stages
        assert [
            (s.deal_count, [(t.currency, t.deal_count, t.amount_minor) for t in s.totals])
            for s in summary
        ] == [
            (4, [("EUR", 2, 350), ("USD", 1, 7)]),
            (0, []),
            (1, [("JPY", 1, 9)]),
            (0, []),
        ]
        assert await subject.pipelines.summary(await self.workspace(subject), p.id) is None

    async def test_links_are_idempotent_scoped_and_listed_by_link_time(
        self, subject: Subject
    ) -> None:
        ws, other = await self.workspace(subject), await self.workspace(subject)
        p = pipeline(ws)
        d, e = deal(p, 0), deal(p, 1)
        ada, bob, eve = contact(ws, 1), contact(ws, 2), contact(other, 3)
        acme = company(ws)
        await self.add(subject, p, d, e)
        async with subject.uow() as uow:
            for c in (ada, bob, eve):
                await uow.contacts.add(c)
            await uow.companies.add(acme)
            await uow.commit()
        async with subject.uow() as uow:
            link = uow.deal_links.link
            later = T0 + timedelta(seconds=1)
            assert await link(LinkedObject.CONTACT, ws, d.id, bob.id, T0) == (T0, True)
            assert await link(LinkedObject.CONTACT, ws, d.id, ada.id, later) == (later, True)
            assert await link(LinkedObject.CONTACT, ws, d.id, bob.id, later) == (T0, False)
            assert await link(LinkedObject.CONTACT, ws, e.id, ada.id, T0) == (T0, True)
            assert await link(LinkedObject.COMPANY, ws, d.id, acme.id, T0) == (T0, True)
            await uow.commit()
        with pytest.raises(ContactNotFound):
            async with subject.uow() as uow:
                await uow.deal_links.link(LinkedObject.CONTACT, ws, d.id, eve.id, T0)

        async def contacts_of(page: PageRequest) -> Page[LinkedTo[Contact]]:
            found = await subject.deals.contacts_of(ws, d.id, page)
            assert found is not None
            return found

        contacts = await every_page(contacts_of, 1)
        assert [(x.item.id, x.linked_at) for x in contacts] == [
            (bob.id, T0),
            (ada.id, T0 + timedelta(seconds=1)),
        ]
        assert contacts[0].item == bob
        companies = await subject.deals.companies_of(ws, d.id, OLDEST)
        assert companies is not None
        assert [x.item for x in companies.items] == [acme]
        deals = await subject.deals.deals_of(LinkedObject.CONTACT, ws, ada.id, OLDEST)
        assert deals is not None
        assert [x.item.id for x in deals.items] == [e.id, d.id]
        assert await subject.deals.deals_of(LinkedObject.CONTACT, other, ada.id, OLDEST) is None
        assert await subject.deals.contacts_of(other, d.id, OLDEST) is None
        async with subject.uow() as uow:
            assert await uow.deal_links.unlink(LinkedObject.CONTACT, ws, d.id, bob.id) is True
            assert await uow.deal_links.unlink(LinkedObject.CONTACT, ws, d.id, bob.id) is False
            await uow.deals.remove(e)
            await uow.commit()
        contacts_left = await subject.deals.contacts_of(ws, d.id, OLDEST)
        assert contacts_left is not None
        assert [x.item.id for x in contacts_left.items] == [ada.id]
        deals_left = await subject.deals.deals_of(LinkedObject.CONTACT, ws, ada.id, OLDEST)
        assert deals_left is not None
        assert [x.item.id for x in deals_left.items] == [d.id]


class TestInMemory(DealsContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(
            lambda: InMemoryUnitOfWork(store),
            InMemoryPipelineReader(store),
            InMemoryDealReader(store),
        )


class TestPostgres(DealsContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(
                uow,
                AsyncpgPipelineReader(pool),
                AsyncpgDealReader(pool),
            )

    async def test_the_database_refuses_a_stage_of_another_pipeline(self, subject: Subject) -> None:
        ws = await self.workspace(subject)
        p, q = pipeline(ws, 0), pipeline(ws, 1)
        await self.add(subject, p, q)
        with pytest.raises(StageNotInPipeline):
            await self.add(subject, deal(p, stage_id=q.stages[0].id))
        d = deal(p)
        await self.add(subject, d)
        with pytest.raises(StageNotInPipeline):
            async with subject.uow() as uow:
                await uow.deals.save(replace(d, stage_id=q.stages[1].id), expected_version=1)
        assert await subject.deals.get(ws, d.id) == d
