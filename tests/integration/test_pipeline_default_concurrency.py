"""Twenty callers making twenty pipelines the default at once, over HTTP on a real database:
each switch waits for the one before it, so every request succeeds and the workspace is left
with exactly one default (the unique index `uq_pipeline_one_default` never fires)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest_asyncio

from tests.support.api import Api, running_api, settings_for_tests

CALLERS = 20


@pytest_asyncio.fixture
async def api(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    settings = settings_for_tests(database_url, redis_url, database_pool_size=CALLERS)
    async with running_api(settings) as running:
        yield running


def _pipeline(name: str, is_default: bool) -> dict[str, object]:
    return {"name": name, "is_default": is_default, "stages": [{"name": "Open"}]}


async def _defaults(db: asyncpg.Connection, auth: dict[str, str], api: Api) -> list[str]:
    listed = await api.client.get("/v1/pipelines", params={"limit": 200}, headers=auth)
    assert listed.status_code == 200, listed.text
    shown = [p["id"] for p in listed.json()["data"] if p["is_default"]]
    stored = await db.fetch("SELECT id FROM pipeline WHERE is_default")
    assert [str(r["id"]) for r in stored] == shown
    return shown


def _statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def test_concurrent_creates_of_a_default_leave_exactly_one(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    responses = await asyncio.gather(
        *(
            api.client.post("/v1/pipelines", json=_pipeline(f"P{i}", True), headers=auth)
            for i in range(CALLERS)
        )
    )
    assert _statuses(responses) == [201] * CALLERS, [r.text for r in responses]
    [default] = await _defaults(db, auth, api)
    assert default in {r.json()["id"] for r in responses}


async def test_concurrent_switches_and_creates_leave_exactly_one(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    made = [
        await api.client.post("/v1/pipelines", json=_pipeline(f"P{i}", False), headers=auth)
        for i in range(CALLERS)
    ]
    ids = [r.json()["id"] for r in made]
    patches = [
        api.client.patch(f"/v1/pipelines/{pid}", json={"is_default": True}, headers=auth)
        for pid in ids
    ]
    creates = [
        api.client.post("/v1/pipelines", json=_pipeline(f"N{i}", True), headers=auth)
        for i in range(CALLERS // 2)
    ]
    responses = await asyncio.gather(*patches, *creates)
    expected = [200] * len(patches) + [201] * len(creates)
    assert _statuses(responses) == sorted(expected), [r.text for r in responses]
    [default] = await _defaults(db, auth, api)
    assert default in {*ids, *(r.json()["id"] for r in responses[CALLERS:])}
