"""Contacts end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support.api import Api

ADA = {"first_name": "Ada", "last_name": "Lovelace", "emails": ["Ada@Example.com"]}


async def create(api: Api, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.client.post("/v1/contacts", json=body or ADA, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_the_whole_journey(api: Api) -> None:
    auth = await api.key()
    created = await api.client.post(
        "/v1/contacts", json={**ADA, "phones": ["+1 415 555 2671"]}, headers=auth
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/v1/contacts/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert body["emails"] == ["ada@example.com"]
    assert body["phones"] == ["+14155552671"]
    assert body["name"] == "Ada Lovelace"
    assert body["lifecycle_stage"] == "lead"
    assert body["created_at"].endswith("Z")

    got = await api.client.get(f"/v1/contacts/{body['id']}", headers=auth)
    assert (got.status_code, got.json(), got.headers["etag"]) == (200, body, '"1"')

    patched = await api.client.patch(
        f"/v1/contacts/{body['id']}",
        json={"job_title": "Countess", "phones": None},
        headers={**auth, "If-Match": '"1"'},
    )
    assert patched.status_code == 200
    assert (patched.json()["job_title"], patched.json()["phones"], patched.json()["version"]) == (
        "Countess",
        [],
        2,
    )
    assert patched.headers["etag"] == '"2"'
    assert patched.json()["first_name"] == "Ada"

    stale = await api.client.patch(
        f"/v1/contacts/{body['id']}", json={"job_title": "X"}, headers={**auth, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["code"] == "version_conflict"

    deleted = await api.client.delete(
        f"/v1/contacts/{body['id']}", headers={**auth, "If-Match": '"2"'}
    )
    assert deleted.status_code == 204
    gone = await api.client.get(f"/v1/contacts/{body['id']}", headers=auth)
    assert (gone.status_code, gone.json()["code"]) == (404, "contact_not_found")


async def test_list_pages_with_a_cursor(api: Api) -> None:
    auth = await api.key()
    ids = [(await create(api, auth, first_name=f"C{i}"))["id"] for i in range(5)]
    first = await api.client.get("/v1/contacts", params={"limit": 2}, headers=auth)
    assert [c["id"] for c in first.json()["data"]] == ids[::-1][:2]
    cursor = first.json()["next_cursor"]
    second = await api.client.get(
        "/v1/contacts", params={"limit": 2, "cursor": cursor}, headers=auth
    )
    assert [c["id"] for c in second.json()["data"]] == ids[::-1][2:4]
    rest = await api.client.get(
        "/v1/contacts", params={"limit": 2, "cursor": second.json()["next_cursor"]}, headers=auth
    )
    assert ([c["id"] for c in rest.json()["data"]], rest.json()["next_cursor"]) == ([ids[0]], None)
    oldest = await api.client.get(
        "/v1/contacts", params={"sort": "created_at", "limit": 200}, headers=auth
    )
    assert [c["id"] for c in oldest.json()["data"]] == ids


async def test_a_bad_cursor_or_limit_is_a_query_problem(api: Api) -> None:
    auth = await api.key()
    bad = await api.client.get("/v1/contacts", params={"cursor": "garbage"}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_cursor"
    assert bad.json()["errors"][0]["field"] == "cursor"
    for limit in (0, 201, "many"):
        r = await api.client.get("/v1/contacts", params={"limit": limit}, headers=auth)
        assert r.status_code == 422
        assert r.json()["errors"][0] | {"message": ""} == {
            "field": "limit",
            "source": "query",
            "code": r.json()["errors"][0]["code"],
            "message": "",
        }


async def test_emails_are_unique_within_a_workspace(api: Api) -> None:
    auth, other = await api.key("A"), await api.key("B")
    first = await create(api, auth, emails=["ada@example.com"])
    clash = await api.client.post(
        "/v1/contacts", json={"emails": ["x@y.io", "ADA@example.com"]}, headers=auth
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "contact_email_taken"
    assert clash.json()["errors"][0]["field"] == "/emails/1"
    await create(api, other, emails=["ada@example.com"])
    second = await create(api, auth, emails=["bob@example.com"])
    steal = await api.client.patch(
        f"/v1/contacts/{second['id']}", json={"emails": ["ada@example.com"]}, headers=auth
    )
    assert (steal.status_code, steal.json()["errors"][0]["field"]) == (409, "/emails/0")
    await api.client.delete(f"/v1/contacts/{first['id']}", headers=auth)
    await create(api, auth, emails=["ada@example.com"])


async def test_changes_are_recorded_in_the_outbox_with_the_write(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    contact = await create(api, auth)
    await api.client.patch(
        f"/v1/contacts/{contact['id']}", json={"job_title": "Countess"}, headers=auth
    )
    refused = await api.client.post("/v1/contacts", json=ADA, headers=auth)
    assert refused.status_code == 409
    await api.client.delete(f"/v1/contacts/{contact['id']}", headers=auth)
    rows = await db.fetch("SELECT topic, payload FROM outbox_event ORDER BY occurred_at, topic")
    assert [r["topic"] for r in rows] == ["contact.created", "contact.updated", "contact.deleted"]
    updated = rows[1]["payload"]
    assert '"job_title": {"new": "Countess", "old": null}' in updated
    assert await db.fetchval("SELECT count(*) FROM contact") == 0
    assert await db.fetchval("SELECT count(*) FROM contact_email") == 0


async def test_bad_input_is_a_precise_problem(api: Api) -> None:
    auth = await api.key()
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"emails": ["nope"]}, 422, "/emails/0", "invalid_email"),
        ({"first_name": "A", "phones": ["+1 555"]}, 422, "/phones/0", "invalid_phone"),
        ({"first_name": "A", "nickname": "x"}, 422, "/nickname", "extra_forbidden"),
        ({"job_title": "CEO"}, 422, "/display_name", "identity_required"),
        ({"first_name": "A", "lifecycle_stage": "prospect"}, 422, "/lifecycle_stage", "enum"),
        (
            {"first_name": "A", "custom_fields": {"x": {"y": 1}}},
            422,
            "/custom_fields/x",
            "not_a_scalar",
        ),
        (
            {"first_name": "A", "owner_id": "0190c2a0-0000-7000-8000-000000000000"},
            422,
            "/owner_id",
            "owner_not_member",
        ),
        ({"first_name": "A", "emails": "a@b.io"}, 422, "/emails", "list_type"),
    ]
    for body, status, field, code in cases:
        r = await api.client.post("/v1/contacts", json=body, headers=auth)
        assert r.status_code == status, (body, r.text)
        problem = r.json()
        assert problem["status"] == status
        assert problem["code"] == "validation_failed"
        assert problem["errors"][0]["field"] == field, (body, problem)
        if code:
            assert problem["errors"][0]["code"] == code, (body, problem)
    listed = await api.client.get("/v1/contacts", headers=auth)
    assert listed.json()["data"] == []


async def test_values_no_database_could_store_are_422_not_500(api: Api) -> None:
    auth = {**await api.key(), "Content-Type": "application/json"}
    bodies = [
        (b'{"first_name": "A\\u0000da"}', "/first_name"),
        (b'{"first_name": "Ada", "custom_fields": {"n": "x\\u0000"}}', "/custom_fields/n"),
        (b'{"first_name": "Ada", "custom_fields": {"n": 123456789012345678901234567890}}', None),
    ]
    for body, field in bodies:
        r = await api.client.post("/v1/contacts", content=body, headers=auth)
        assert r.status_code == 422, r.text
        if field is not None:
            assert [e["field"] for e in r.json()["errors"]] == [field]
