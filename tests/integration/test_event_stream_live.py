"""The event stream on real `crm serve` processes over one database and one Redis: a write
through one process arrives on a stream held on the other, and SIGTERM ends open streams
with a last message instead of holding the shutdown."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import httpx

from tests.support.live import serving, workspace_key
from tests.support.sse import live_stream


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_write_through_one_process_arrives_on_a_stream_held_on_another(
    database_url: str, redis_url: str
) -> None:
    key = await asyncio.to_thread(workspace_key, database_url, redis_url)
    with serving(database_url, redis_url) as (a, _), serving(database_url, redis_url) as (b, _):
        async with live_stream(b, auth(key)) as stream, httpx.AsyncClient(base_url=a) as client:
            assert stream.status == 200
            await stream.opened()
            email = f"{uuid.uuid4().hex}@example.com"
            sent = time.monotonic()
            r = await client.post(
                "/v1/contacts", json={"first_name": "Ada", "emails": [email]}, headers=auth(key)
            )
            assert r.status_code == 201, r.text
            got = await stream.event()
            took = time.monotonic() - sent
    assert got.event == "contact.created"
    assert got.json()["aggregate_id"] == r.json()["id"]
    assert took < 2.0, f"{took:.3f} s from the write to the other process's stream"


async def test_sigterm_ends_open_streams_with_a_close_message_and_exits(
    database_url: str, redis_url: str
) -> None:
    key = await asyncio.to_thread(workspace_key, database_url, redis_url)
    with serving(database_url, redis_url) as (base_url, process):
        async with live_stream(base_url, auth(key)) as one, live_stream(base_url, auth(key)) as two:
            await one.opened()
            await two.opened()
            stopping = time.monotonic()
            process.send_signal(signal.SIGTERM)
            for stream in (one, two):
                closed = await stream.event()
                assert (closed.event, closed.json()) == ("close", {"reason": "shutdown"})
                assert await stream.next() is None
        code = await asyncio.to_thread(process.wait, 10)
        took = time.monotonic() - stopping
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert took < 5.0, f"the server took {took:.1f} s to stop with two streams open"
