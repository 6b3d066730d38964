"""Attachments follow their record, through the worker's handler: a merge moves them to the
survivor, a deletion takes their files and rows (pending ones too). The app as bootstrap
wires it: the local file store, its links served by the app itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest_asyncio
from sqlalchemy import text

from crm.adapters.postgres.engine import create_engine
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.people import owner_of

PDF = "application/pdf"


@pytest_asyncio.fixture
async def api(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    settings = settings_for_tests(database_url, redis_url, sqs_wait_seconds=0)
    async with running_api(settings) as running:
        yield running


async def rows_of(database_url: str, ids: list[str]) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = text("SELECT id::text FROM attachment WHERE id = ANY(CAST(:ids AS uuid[]))")
            return [r[0] for r in await conn.execute(query, {"ids": ids})]
    finally:
        await engine.dispose()


async def deliver(api: Api) -> None:
    events = api.container.events
    while await events.relay.execute():
        pass
    while await events.consumer.execute():
        pass


async def attach(api: Api, owner: dict[str, str], contact_id: str, *, upload: bool) -> str:
    body = {"filename": "quote.pdf", "content_type": PDF}
    made = await api.client.post(f"/v1/contacts/{contact_id}/attachments", json=body, headers=owner)
    assert made.status_code == 201, made.text
    attachment, form = made.json()["attachment"], made.json()["upload"]
    if upload:
        files = {"file": ("quote.pdf", b"%PDF-1.7 quote", PDF)}
        sent = await api.client.post(urlsplit(form["url"]).path, data=form["fields"], files=files)
        assert sent.status_code == 204, sent.text
        confirmed = await api.client.post(
            f"/v1/attachments/{attachment['id']}/confirm", headers=owner
        )
        assert confirmed.status_code == 200, confirmed.text
    return str(attachment["id"])


async def contact(api: Api, owner: dict[str, str], name: str) -> str:
    made = await api.client.post("/v1/contacts", json={"first_name": name}, headers=owner)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def listed(api: Api, owner: dict[str, str], contact_id: str) -> list[Any]:
    found = await api.client.get(f"/v1/contacts/{contact_id}/attachments", headers=owner)
    assert found.status_code == 200, found.text
    return [a["id"] for a in found.json()["data"]]


async def test_a_merge_moves_attachments_to_the_survivor(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    survivor, source = await contact(api, owner, "Ana"), await contact(api, owner, "Ana B.")
    kept = await attach(api, owner, survivor, upload=True)
    moved = await attach(api, owner, source, upload=True)
    merged = await api.client.post(
        f"/v1/contacts/{survivor}/merge", json={"source_id": source}, headers=owner
    )
    assert merged.status_code == 200, merged.text
    await deliver(api)
    assert sorted(await listed(api, owner, survivor)) == sorted([kept, moved])
    link = await api.client.get(f"/v1/attachments/{moved}/download", headers=owner)
    assert link.status_code == 200, link.text
    fetched = await api.client.get(urlsplit(link.json()["url"]).path)
    assert (fetched.status_code, fetched.content) == (200, b"%PDF-1.7 quote")
    await deliver(api)  # a second delivery of the same events changes nothing
    assert sorted(await listed(api, owner, survivor)) == sorted([kept, moved])


async def test_a_deleted_record_takes_its_attachments_and_files(
    api: Api, database_url: str
) -> None:
    owner, workspace_id = await owner_of(api.client)
    doomed, other = await contact(api, owner, "Gone"), await contact(api, owner, "Stays")
    ready = await attach(api, owner, doomed, upload=True)
    pending = await attach(api, owner, doomed, upload=False)
    untouched = await attach(api, owner, other, upload=True)
    blobs, ws = api.container.blobs, UUID(workspace_id)
    assert await blobs.head(ws, f"attachments/{ready}") is not None
    deleted = await api.client.delete(f"/v1/contacts/{doomed}", headers=owner)
    assert deleted.status_code == 204, deleted.text
    await deliver(api)
    for gone in (ready, pending):
        answer = await api.client.get(f"/v1/attachments/{gone}", headers=owner)
        assert (answer.status_code, answer.json()["code"]) == (404, "attachment_not_found")
    rows = await rows_of(database_url, [ready, pending, untouched])
    assert rows == [untouched]  # the rows went, not only out of sight
    assert await blobs.head(ws, f"attachments/{ready}") is None
    assert await listed(api, owner, other) == [untouched]
    assert await blobs.head(ws, f"attachments/{untouched}") is not None
