"""GET /v1/events/stream in one process: writes arrive as they commit, filtered by type and by
what the caller may read, resumed with Last-Event-ID, with heartbeats, closed on shutdown.

The app runs in-process on real PostgreSQL and Redis; the stream is read through a raw ASGI
driver (tests/support/sse.py), since httpx's ASGITransport holds a response until it ends.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import pytest
import pytest_asyncio

from crm.adapters.redis.credentials import RedisCredentialInvalidation
from tests.support.api import Api, closed_port, running_api, settings_for_tests
from tests.support.sse import SseMessage, StreamReader, asgi_stream, stream_path


async def _live(api: Api) -> Api:
    # A stream authenticates once; it ends when credentials may have changed unseen, which
    # the credential channel announces when it (first) subscribes: wait for that first.
    credentials = api.container.credentials
    if isinstance(credentials, RedisCredentialInvalidation):
        await asyncio.wait_for(credentials.subscribed.wait(), 5)
    return api


@pytest_asyncio.fixture
async def api(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    settings = settings_for_tests(
        database_url, redis_url, event_stream_heartbeat_seconds=0.2, event_stream_max_per_key=3
    )
    async with running_api(settings) as running:
        yield await _live(running)


async def create_contact(api: Api, key: dict[str, str], name: str = "Ada") -> dict[str, Any]:
    r = await api.client.post(
        "/v1/contacts",
        json={"first_name": name, "emails": [f"{uuid.uuid4().hex}@x.io"]},
        headers=key,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def create_company(api: Api, key: dict[str, str], name: str = "Acme") -> dict[str, Any]:
    r = await api.client.post("/v1/companies", json={"name": name}, headers=key)
    assert r.status_code == 201, r.text
    return dict(r.json())


def open_stream(
    api: Api, key: dict[str, str], types: list[str] | None = None, last_event_id: str | None = None
) -> AbstractAsyncContextManager[StreamReader]:
    resume = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    return asgi_stream(api.app, stream_path(types), {**key, **resume})


async def test_a_committed_write_arrives_on_an_open_stream(api: Api) -> None:
    key = await api.key()
    async with open_stream(api, key) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        await stream.opened()
        contact = await create_contact(api, key)
        got = await stream.event()
    assert got.event == "contact.created"
    body = got.json()
    assert got.id == body["id"]
    assert body["type"] == "contact.created"
    assert body["aggregate_type"] == "contact"
    assert body["aggregate_id"] == contact["id"]
    assert body["payload"]["first_name"] == "Ada"


async def scoped_key(api: Api, admin: dict[str, str], *scopes: str) -> tuple[str, dict[str, str]]:
    r = await api.client.post(
        "/v1/api-keys", json={"name": "Stream", "scopes": list(scopes)}, headers=admin
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['secret']}"}


async def test_types_keep_only_the_matching_events(api: Api) -> None:
    key = await api.key()
    async with open_stream(api, key, ["company.*", "contact.updated"]) as stream:
        await stream.opened()
        contact = await create_contact(api, key)
        await create_company(api, key)
        r = await api.client.patch(
            f"/v1/contacts/{contact['id']}", json={"first_name": "Grace"}, headers=key
        )
        assert r.status_code == 200, r.text
        got = [await stream.event(), await stream.event()]
        rest = await stream.quiet(0.3)
    assert [m.event for m in got] == ["company.created", "contact.updated"]
    assert got[1].json()["payload"]["changes"]["first_name"] == {"old": "Ada", "new": "Grace"}
    assert rest == []


@pytest.mark.parametrize(
    "pattern",
    ["contact.", "*.created", "Contact.*", "contact.**", "contact..created", " ", "a b", "🙂"],
)
async def test_a_type_that_is_not_a_pattern_is_422(api: Api, pattern: str) -> None:
    key = await api.key()
    async with open_stream(api, key, ["contact.*", pattern]) as stream:
        pass
    assert stream.status == 422, stream.body
    problem = json_of(stream.body)
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["types"]
    assert problem["errors"][0]["source"] == "query"


async def test_more_than_twenty_types_is_422(api: Api) -> None:
    key = await api.key()
    async with open_stream(api, key, [f"t{i}.*" for i in range(21)]) as stream:
        pass
    assert stream.status == 422, stream.body


@pytest.mark.parametrize("pattern", ["*", "contact.*", "contact.created", "deal.stage_changed"])
async def test_every_kind_of_pattern_opens_a_stream(api: Api, pattern: str) -> None:
    key = await api.key()
    async with open_stream(api, key, [pattern]) as stream:
        await stream.opened()
        await create_contact(api, key)
        got = await stream.quiet(0.3) if pattern.startswith("deal") else [await stream.event()]
    assert [m.event for m in got] == ([] if pattern.startswith("deal") else ["contact.created"])


def json_of(body: bytes) -> dict[str, Any]:
    return dict(json.loads(body))


async def test_a_key_sees_only_what_its_scopes_may_read(api: Api) -> None:
    admin = await api.key()
    _, contacts = await scoped_key(api, admin, "contacts:read")
    _, companies = await scoped_key(api, admin, "companies:read")
    _, writer = await scoped_key(api, admin, "contacts:write", "companies:write")
    async with (
        open_stream(api, contacts) as contact_stream,
        open_stream(api, companies) as company_stream,
        open_stream(api, writer) as blind_stream,
    ):
        for stream in (contact_stream, company_stream, blind_stream):
            await stream.opened()
        await create_contact(api, admin)
        await create_company(api, admin)
        seen_by_contacts = await contact_stream.quiet(0.4)
        seen_by_companies = await company_stream.quiet(0.1)
        seen_blind = await blind_stream.quiet(0.1)
    assert [m.event for m in seen_by_contacts] == ["contact.created"]
    assert [m.event for m in seen_by_companies] == ["company.created"]
    assert seen_blind == []


async def test_another_workspace_never_sees_the_events(api: Api) -> None:
    a, b = await api.key("A"), await api.key("B")
    async with open_stream(api, a) as in_a, open_stream(api, b) as in_b:
        await in_a.opened()
        await in_b.opened()
        made_in_a = await create_contact(api, a, "Alice")
        made_in_b = await create_contact(api, b, "Bob")
        seen_in_a = await in_a.quiet(0.4)
        seen_in_b = await in_b.quiet(0.1)
    assert [m.json()["aggregate_id"] for m in seen_in_a] == [made_in_a["id"]]
    assert [m.json()["aggregate_id"] for m in seen_in_b] == [made_in_b["id"]]


async def test_last_event_id_resumes_from_the_outbox_then_goes_live(api: Api) -> None:
    key = await api.key()
    async with open_stream(api, key) as stream:
        await stream.opened()
        await create_contact(api, key, "First")
        first = await stream.event()
    missed = [(await create_contact(api, key, name))["id"] for name in ("Second", "Third")]
    async with open_stream(api, key, last_event_id=str(first.id)) as stream:
        replayed = [await stream.event(), await stream.event()]
        live = await create_contact(api, key, "Fourth")
        after = await stream.event()
        rest = await stream.quiet(0.3)
    assert [m.json()["aggregate_id"] for m in replayed] == missed
    assert after.json()["aggregate_id"] == live["id"]
    assert rest == []


@pytest.mark.parametrize("kind", ["random uuid", "not an id", "another workspace's event"])
async def test_an_id_the_outbox_cannot_resume_from_resets_then_goes_live(
    api: Api, kind: str
) -> None:
    key, other = await api.key("A"), await api.key("B")
    last = {"random uuid": str(uuid.uuid4()), "not an id": "zzz"}.get(kind)
    if last is None:
        async with open_stream(api, other) as stream:
            await stream.opened()
            await create_contact(api, other)
            last = (await stream.event()).id
    assert last is not None
    async with open_stream(api, key, last_event_id=last) as stream:
        reset = await stream.event()
        made = await create_contact(api, key)
        live = await stream.event()
    assert (reset.event, reset.json(), reset.id) == ("reset", {"reason": "unknown_event"}, None)
    assert live.json()["aggregate_id"] == made["id"]


async def test_an_idle_stream_sends_heartbeat_comments(api: Api) -> None:
    key = await api.key()
    async with open_stream(api, key) as stream:
        await stream.opened()
        pings = 0
        async with asyncio.timeout(2):
            while pings < 3:
                message = await stream.next()
                assert message is not None
                assert message.event is None, message
                pings += message.comments.count("ping")
    assert pings == 3


async def test_streams_per_key_are_capped_with_429(api: Api) -> None:
    key, other = await api.key("A"), await api.key("B")
    async with (
        open_stream(api, key) as one,
        open_stream(api, key),
        open_stream(api, key),
    ):
        await one.opened()
        async with open_stream(api, key) as refused:
            pass
        async with open_stream(api, other) as elsewhere:
            await elsewhere.opened()
    assert refused.status == 429, refused.body
    assert json_of(refused.body)["code"] == "too_many_streams"
    assert refused.headers["retry-after"] == "5"
    async with open_stream(api, key) as again:
        await again.opened()


async def test_a_revoked_key_s_stream_closes(api: Api) -> None:
    admin = await api.key()
    key_id, key = await scoped_key(api, admin, "contacts:read")
    async with open_stream(api, key) as stream:
        await stream.opened()
        r = await api.client.delete(f"/v1/api-keys/{key_id}", headers=admin)
        assert r.status_code == 204
        closed = await stream.event()
        assert await stream.next() is None
    assert (closed.event, closed.json()) == ("close", {"reason": "credentials_changed"})


async def test_an_idempotent_post_is_streamed_once_after_its_commit(api: Api) -> None:
    key = await api.key()
    retried = {**key, "Idempotency-Key": str(uuid.uuid4())}
    body = {"first_name": "Once", "emails": ["once@example.com"]}
    async with open_stream(api, key) as stream:
        await stream.opened()
        first = await api.client.post("/v1/contacts", json=body, headers=retried)
        again = await api.client.post("/v1/contacts", json=body, headers=retried)
        got = await stream.quiet(0.5)
    assert (first.status_code, again.headers.get("idempotent-replayed")) == (201, "true")
    assert [m.json()["aggregate_id"] for m in got] == [first.json()["id"]]


async def test_a_slow_client_is_told_to_reset_and_closed(database_url: str, redis_url: str) -> None:
    settings = settings_for_tests(database_url, redis_url, event_stream_queue_size=3)
    async with running_api(settings) as api:
        await _live(api)
        key = await api.key()
        reading = asyncio.Event()
        async with asgi_stream(api.app, stream_path(), key, hold_after_open=reading) as stream:
            await stream.opened()
            for i in range(6):
                await create_contact(api, key, f"C{i}")
            await asyncio.sleep(0.2)
            reading.set()
            messages = [m async for m in drain(stream)]
    events = [m.event for m in messages if m.event is not None]
    assert events == ["contact.created", "reset"], events
    assert messages[-1].json() == {"reason": "too_slow"}


async def drain(stream: StreamReader) -> AsyncIterator[SseMessage]:
    while (message := await stream.next()) is not None:
        yield message


async def test_shutdown_ends_every_stream_with_a_close_message(
    database_url: str, redis_url: str
) -> None:
    async with AsyncExitStack() as streams:
        async with running_api(settings_for_tests(database_url, redis_url)) as api:
            await _live(api)
            key, other = await api.key("A"), await api.key("B")
            opened = [await streams.enter_async_context(open_stream(api, k)) for k in (key, other)]
            for stream in opened:
                await stream.opened()
        # The lifespan has stopped: each stream got its last message and ended.
        for stream in opened:
            closed = await stream.event()
            assert (closed.event, closed.json()) == ("close", {"reason": "shutdown"})
            assert await stream.next() is None


@pytest.mark.parametrize("redis", ["unset", "unreachable"])
async def test_without_redis_streams_work_within_the_process(database_url: str, redis: str) -> None:
    url = None if redis == "unset" else f"redis://127.0.0.1:{closed_port()}/0"
    async with running_api(settings_for_tests(database_url, url)) as api:
        key = await api.key()
        async with open_stream(api, key) as stream:
            await stream.opened()
            made = await create_contact(api, key)
            got = await stream.event()
    assert got.json()["aggregate_id"] == made["id"]
