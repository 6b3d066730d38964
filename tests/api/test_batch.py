"""POST /v1/{contacts,companies,deals}/batch end to end on PostgreSQL and Redis: a result per
item in order, bad items failing alone, the envelope refused whole, replays, isolation."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.api.test_companies import scoped_key
from tests.support.api import Api


async def batch(
    api: Api, auth: dict[str, str], kind: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    r = await api.client.post(f"/v1/{kind}/batch", json=body, headers=auth)
    return r.status_code, r.json()


def outcomes(body: dict[str, Any]) -> list[str]:
    return [r["problem"]["code"] if r["problem"] else r["status"] for r in body["results"]]


async def test_mixed_results_are_reported_per_item(api: Api, db: asyncpg.Connection) -> None:
    auth = await api.key()
    status, body = await batch(
        api,
        auth,
        "contacts",
        operation="create",
        items=[
            {"first_name": "Ada", "emails": ["ada@x.io"], "external_id": "a-1"},
            {"first_name": "Bad", "emails": ["nope"]},
            {"first_name": "Grace", "unknown": 1},
            {"first_name": "Dup", "emails": ["ADA@x.io"]},
        ],
    )
    assert status == 200, body
    assert outcomes(body) == [
        "created",
        "validation_failed",
        "validation_failed",
        "duplicate_in_batch",
    ]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert (body["created"], body["failed"], body["updated"]) == (1, 3, 0)
    bad = body["results"][1]["problem"]
    assert (bad["status"], bad["type"], bad["errors"][0]["field"]) == (
        422,
        "/problems/validation_failed",
        "/emails/0",
    )
    assert body["results"][3]["problem"]["status"] == 409
    ada = body["results"][0]["data"]
    got = await api.client.get(f"/v1/contacts/{ada['id']}", headers=auth)
    assert got.json() == ada
    assert ada["external_id"] == "a-1"
    assert await db.fetchval("SELECT count(*) FROM contact") == 1

    status, body = await batch(
        api,
        auth,
        "contacts",
        operation="upsert",
        match_on="external_id",
        items=[
            {"external_id": "a-1", "job_title": "CTO"},
            {"external_id": "b-2", "first_name": "Bo", "emails": ["ada@x.io"]},
            {"external_id": "c-3", "first_name": "Cy"},
        ],
    )
    assert outcomes(body) == ["updated", "contact_email_taken", "created"]
    assert body["results"][0]["data"]["job_title"] == "CTO"
    assert body["results"][0]["data"]["version"] == 2
    status, body = await batch(
        api,
        auth,
        "contacts",
        operation="update",
        items=[
            {"id": ada["id"], "if_match": 1, "first_name": "Stale"},
            {"id": ada["id"], "first_name": "Ada"},
        ],
    )
    assert outcomes(body) == ["version_conflict", "unchanged"]
    assert body["results"][0]["problem"]["status"] == 412


async def test_the_envelope_is_validated_whole(api: Api) -> None:
    auth = await api.key()
    too_many = [{"first_name": f"P{i}"} for i in range(101)]
    cases: list[dict[str, Any]] = [
        {"operation": "create", "items": too_many},
        {"operation": "create", "items": []},
        {"operation": "delete", "items": [{"first_name": "Ada"}]},
        {"operation": "create", "items": ["Ada"]},
        {"operation": "upsert", "match_on": "domain", "items": [{"first_name": "Ada"}]},
        {"operation": "create", "match_by": "email", "items": [{"first_name": "Ada"}]},
    ]
    for body in cases:
        r = await api.client.post("/v1/contacts/batch", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == "validation_failed"


async def test_an_idempotency_key_replays_the_batch(api: Api, db: asyncpg.Connection) -> None:
    auth = {**await api.key(), "Idempotency-Key": "batch-1"}
    body = {"operation": "create", "items": [{"first_name": "Ada"}, {"first_name": "Bo"}]}
    first = await api.client.post("/v1/contacts/batch", json=body, headers=auth)
    again = await api.client.post("/v1/contacts/batch", json=body, headers=auth)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM contact") == 2


async def test_another_workspaces_records_are_not_found(api: Api) -> None:
    acme, globex = await api.key("Acme"), await api.key("Globex")
    _, made = await batch(api, acme, "deals", operation="create", items=[{"name": "One"}])
    deal_id = made["results"][0]["data"]["id"]
    _, theirs = await batch(
        api, globex, "deals", operation="update", items=[{"id": deal_id, "name": "Mine"}]
    )
    assert outcomes(theirs) == ["deal_not_found"]
    assert theirs["results"][0]["problem"]["status"] == 404
    got = await api.client.get(f"/v1/deals/{deal_id}", headers=acme)
    assert got.json()["name"] == "One"


async def test_companies_and_deals_upsert_by_their_keys(api: Api) -> None:
    auth = await api.key()
    _, body = await batch(
        api,
        auth,
        "companies",
        operation="upsert",
        items=[{"name": "Acme", "domain": "acme.com"}, {"name": "Beta", "domain": "beta.io"}],
    )
    assert outcomes(body) == ["created", "created"]
    _, again = await batch(
        api,
        auth,
        "companies",
        operation="upsert",
        on_match="skip",
        items=[{"name": "Acme?", "domain": "https://ACME.com"}],
    )
    assert outcomes(again) == ["skipped"]
    assert (again["skipped"], again["results"][0]["data"]["name"]) == (1, "Acme")
    _, deals = await batch(
        api,
        auth,
        "deals",
        operation="upsert",
        items=[{"name": "Renewal", "external_id": "o-1", "amount_minor": 100, "currency": "EUR"}],
    )
    assert outcomes(deals) == ["created"]
    assert deals["results"][0]["data"]["external_id"] == "o-1"
    single = await api.client.post(
        "/v1/deals", json={"name": "Copy", "external_id": "o-1"}, headers=auth
    )
    assert (single.status_code, single.json()["code"]) == (409, "external_id_taken")
    assert deals["results"][0]["data"]["id"] in single.json()["detail"]


async def test_the_write_scope_is_needed(api: Api) -> None:
    admin = await api.key()
    reader = await scoped_key(api, admin, "contacts:read")
    r = await api.client.post(
        "/v1/contacts/batch",
        json={"operation": "create", "items": [{"first_name": "Ada"}]},
        headers=reader,
    )
    assert r.status_code == 403


async def test_a_contacts_external_id_is_unique_in_its_workspace(api: Api) -> None:
    auth, other = await api.key("Acme"), await api.key("Globex")
    ada = await api.client.post(
        "/v1/contacts", json={"first_name": "Ada", "external_id": "  crm-1 "}, headers=auth
    )
    assert (ada.status_code, ada.json()["external_id"]) == (201, "crm-1")
    clash = await api.client.post(
        "/v1/contacts", json={"first_name": "Bo", "external_id": "crm-1"}, headers=auth
    )
    assert (clash.status_code, clash.json()["code"]) == (409, "external_id_taken")
    assert ada.json()["id"] in clash.json()["detail"]
    bo = await api.client.post("/v1/contacts", json={"first_name": "Bo"}, headers=auth)
    patched = await api.client.patch(
        f"/v1/contacts/{bo.json()['id']}", json={"external_id": "crm-1"}, headers=auth
    )
    assert (patched.status_code, patched.json()["code"]) == (409, "external_id_taken")
    cleared = await api.client.patch(
        f"/v1/contacts/{ada.json()['id']}", json={"external_id": " "}, headers=auth
    )
    assert cleared.json()["external_id"] is None
    elsewhere = await api.client.post(
        "/v1/contacts", json={"first_name": "Eve", "external_id": "crm-1"}, headers=other
    )
    assert elsewhere.status_code == 201
