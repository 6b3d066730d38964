"""Racing deal writers on a real database: moves against stage deletions, creates against a
pipeline deletion, repeated links. Every loser gets a domain error, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio

from crm.domain.errors import DomainError, PipelineHasDeals, StageNotInPipeline
from crm.domain.model.deal import LinkedObject
from crm.domain.model.permissions import Principal
from crm.domain.pagination import PageRequest
from crm.domain.use_cases import deals as d
from crm.domain.use_cases import pipelines as p
from crm.domain.use_cases.create_contact import CreateContactCommand
from crm.domain.use_cases.deal_links import LinkCommand
from tests.support.api import Api, running_api, settings_for_tests


@pytest_asyncio.fixture
async def api(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    async with running_api(
        settings_for_tests(database_url, redis_url, database_pool_size=8)
    ) as running:
        yield running


async def principal(api: Api) -> Principal:
    created = await api.workspace()
    assert created.secret is not None
    caller = await api.container.authenticate.execute(created.secret)
    assert caller.principal is not None
    return caller.principal


def failures(results: list[Any]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


async def test_moves_racing_a_stage_deletion_leave_no_deal_behind(
    api: Api, db: asyncpg.Connection
) -> None:
    who = await principal(api)
    u = api.container.sales
    [sales] = (await u.list_pipelines.execute(who, PageRequest())).items
    doomed, refuge = sales.stages[2], sales.stages[3]
    deals = [
        await u.create_deal.execute(d.CreateDealCommand(who, {"name": f"D{i}"})) for i in range(8)
    ]
    moves = [u.move_deal.execute(d.MoveDealCommand(who, x.id, doomed.id)) for x in deals]
    deletion = u.delete_stage.execute(p.DeleteStageCommand(who, sales.id, doomed.id, refuge.id))
    results = await asyncio.gather(deletion, *moves, return_exceptions=True)
    assert not isinstance(results[0], BaseException), results[0]
    assert all(isinstance(e, StageNotInPipeline) for e in failures(results)), failures(results)
    assert await db.fetchval("SELECT count(*) FROM deal WHERE stage_id = $1", doomed.id) == 0
    assert await db.fetchval("SELECT count(*) FROM pipeline_stage WHERE id = $1", doomed.id) == 0
    # Every deal's last history entry names the stage it is in.
    mismatched = await db.fetchval(
        "SELECT count(*) FROM deal WHERE stage_id <> (SELECT h.to_stage_id"
        " FROM deal_stage_history h WHERE h.deal_id = deal.id"
        " ORDER BY h.moved_at DESC, h.id DESC LIMIT 1)"
    )
    assert mismatched == 0


async def test_creates_racing_a_pipeline_deletion_never_strand_a_deal(
    api: Api, db: asyncpg.Connection
) -> None:
    who = await principal(api)
    u = api.container.sales
    stages = [{"name": "Open"}, {"name": "Won", "kind": "won"}]
    renewals = await u.create_pipeline.execute(p.CreatePipelineCommand(who, "Renewals", stages))
    creates = [
        u.create_deal.execute(d.CreateDealCommand(who, {"name": f"D{i}"}, renewals.id))
        for i in range(8)
    ]
    deletion = u.delete_pipeline.execute(p.DeletePipelineCommand(who, renewals.id))
    results = await asyncio.gather(*creates, deletion, return_exceptions=True)
    assert all(isinstance(e, DomainError) for e in failures(results)), failures(results)
    left = await db.fetchval("SELECT count(*) FROM deal WHERE pipeline_id = $1", renewals.id)
    pipeline_left = await db.fetchval("SELECT count(*) FROM pipeline WHERE id = $1", renewals.id)
    if isinstance(results[-1], BaseException):
        assert isinstance(results[-1], PipelineHasDeals)
        assert (pipeline_left, left) == (1, 8 - len(failures(results)) + 1)
    else:
        assert (pipeline_left, left) == (0, 0)


async def test_racing_links_make_one_link_and_one_event(api: Api, db: asyncpg.Connection) -> None:
    who = await principal(api)
    u = api.container.sales
    deal = await u.create_deal.execute(d.CreateDealCommand(who, {"name": "Deal"}))
    ada = await api.container.create_contact.execute(CreateContactCommand(who, {"first_name": "A"}))
    link = LinkCommand(who, deal.id, LinkedObject.CONTACT, ada.id)
    results = await asyncio.gather(*(u.link_deal.execute(link) for _ in range(6)))
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert len({r.linked_at for r in results}) == 1
    assert await db.fetchval("SELECT count(*) FROM deal_contact") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox_event WHERE topic = 'deal.linked'") == 1


async def test_racing_stage_changes_lose_none(api: Api) -> None:
    who = await principal(api)
    u = api.container.sales
    [sales] = (await u.list_pipelines.execute(who, PageRequest())).items
    adds = [
        u.add_stage.execute(p.AddStageCommand(who, sales.id, {"name": f"Extra {i}"}, 0))
        for i in range(6)
    ]
    renames = [
        u.update_stage.execute(p.UpdateStageCommand(who, sales.id, s.id, {"probability": 33}))
        for s in sales.stages[:3]
    ]
    results = await asyncio.gather(*adds, *renames, return_exceptions=True)
    assert failures(results) == []
    after = await u.get_pipeline.execute(who, sales.id)
    names = [s.name for s in after.stages]
    assert {f"Extra {i}" for i in range(6)} <= set(names)
    assert len(names) == 13
    assert [s.position for s in after.stages] == list(range(13))
    assert [s.probability for s in after.stages if s.id in {x.id for x in sales.stages[:3]}] == [
        33
    ] * 3
    assert after.version == 1 + 6 + 3
