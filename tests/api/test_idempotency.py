"""Idempotency-Key on POST, end to end on PostgreSQL and Redis (Stripe's semantics)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.support.api import Api

ADA = {"first_name": "Ada", "emails": ["ada@example.com"]}


def _with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def _contacts(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM contact"))


async def test_a_retry_replays_the_first_response_and_creates_nothing(
    api: Api, db: asyncpg.Connection
) -> None:
    h = _with_key(await api.key(), "retry-1")
    first = await api.client.post("/v1/contacts", json=ADA, headers=h)
    again = await api.client.post("/v1/contacts", json=ADA, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert await _contacts(db) == 1
    assert await db.fetchval("SELECT count(*) FROM outbox_event") == 1


async def test_the_same_key_for_a_different_request_is_422(
    api: Api, db: asyncpg.Connection
) -> None:
    h = _with_key(await api.key(), "reused")
    assert (await api.client.post("/v1/contacts", json=ADA, headers=h)).status_code == 201
    other = await api.client.post("/v1/contacts", json={"first_name": "Grace"}, headers=h)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["request_id"] == other.headers["x-request-id"]
    assert await _contacts(db) == 1


async def test_keys_are_scoped_to_the_credential(api: Api, db: asyncpg.Connection) -> None:
    acme, globex = await api.key("Acme"), await api.key("Globex")
    a = await api.client.post("/v1/contacts", json=ADA, headers=_with_key(acme, "k"))
    b = await api.client.post("/v1/contacts", json=ADA, headers=_with_key(globex, "k"))
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert await _contacts(db) == 2


async def test_error_responses_are_not_kept(api: Api, db: asyncpg.Connection) -> None:
    h = await api.key()
    taken = await api.client.post("/v1/contacts", json=ADA, headers=h)
    keyed = _with_key(h, "after-a-conflict")
    for _ in range(2):
        refused = await api.client.post("/v1/contacts", json=ADA, headers=keyed)
        assert refused.status_code == 409
        assert refused.json()["code"] == "contact_email_taken"
        assert "idempotent-replayed" not in refused.headers
    deleted = await api.client.delete(f"/v1/contacts/{taken.json()['id']}", headers=h)
    assert deleted.status_code == 204
    # The cause is gone: the same key and body now do the work, once.
    created = await api.client.post("/v1/contacts", json=ADA, headers=keyed)
    assert created.status_code == 201
    assert "idempotent-replayed" not in created.headers
    assert await _contacts(db) == 1


async def test_invalid_keys_are_400_problems(api: Api, db: asyncpg.Connection) -> None:
    h = await api.key()
    for bad in ("x" * 256, "", "with space", "caf\u00e9"):
        r = await api.client.post(
            "/v1/contacts",
            json=ADA,
            headers=[
                *((k.encode(), v.encode()) for k, v in h.items()),
                (b"Idempotency-Key", bad.encode()),
            ],
        )
        assert r.status_code == 400, bad
        assert r.json()["code"] == "invalid_idempotency_key"
        assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    ok = await api.client.post("/v1/contacts", json=ADA, headers=_with_key(h, "x" * 255))
    assert ok.status_code == 201
    assert await _contacts(db) == 1


async def test_a_body_too_large_with_a_key_is_still_413(api: Api) -> None:
    h = _with_key(await api.key(), "big")

    async def chunks() -> Any:
        for _ in range(2):
            yield b"x" * (600 * 1024)

    r = await api.client.post(
        "/v1/contacts", content=chunks(), headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_twenty_racing_posts_with_one_key_create_one_contact(
    api: Api, db: asyncpg.Connection
) -> None:
    h = _with_key(await api.key(), str(uuid.uuid4()))
    statuses: list[int] = []

    async def client_that_retries() -> httpx.Response:
        while True:
            r = await api.client.post("/v1/contacts", json=ADA, headers=h)
            statuses.append(r.status_code)
            if r.status_code != 409:
                return r
            assert r.json()["code"] == "idempotency_key_in_use"
            assert r.headers["retry-after"] == "1"
            await asyncio.sleep(0.01)

    answers = await asyncio.gather(*(client_that_retries() for _ in range(20)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    originals = [r for r in answers if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    assert set(statuses) <= {201, 409}
    assert await _contacts(db) == 1
    assert await db.fetchval("SELECT count(*) FROM idempotency_key") == 1


async def test_posts_without_a_key_are_not_deduplicated(api: Api, db: asyncpg.Connection) -> None:
    h = await api.key()
    for name in ("Ada", "Ada"):
        r = await api.client.post("/v1/contacts", json={"first_name": name}, headers=h)
        assert r.status_code == 201
    assert await _contacts(db) == 2
    assert await db.fetchval("SELECT count(*) FROM idempotency_key") == 0
