"""Notes on contacts, companies and deals end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support.api import Api
from tests.support.people import join, owner_of


async def record(api: Api, auth: dict[str, str], kind: str) -> str:
    body: dict[str, Any] = {
        "contacts": {"first_name": "Ada"},
        "companies": {"name": "Acme"},
        "deals": {"name": "Big one"},
    }[kind]
    made = await api.client.post(f"/v1/{kind}", json=body, headers=auth)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def add(api: Api, auth: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
    made = await api.client.post(url, json=body or {"text": "Hello"}, headers=auth)
    assert made.status_code == 201, made.text
    return dict(made.json())


@pytest.mark.parametrize(
    ("kind", "record_type"), [("contacts", "contact"), ("companies", "company"), ("deals", "deal")]
)
async def test_the_whole_journey(
    api: Api, db: asyncpg.Connection, kind: str, record_type: str
) -> None:
    auth, _ = await owner_of(api.client)
    rid = await record(api, auth, kind)
    url = f"/v1/{kind}/{rid}/notes"
    created = await api.client.post(url, json={"text": "  Called them.  "}, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/v1/notes/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert (body["record_type"], body["record_id"], body["text"], body["pinned"]) == (
        record_type,
        rid,
        "Called them.",
        False,
    )
    note_url = f"/v1/notes/{body['id']}"
    got = await api.client.get(note_url, headers=auth)
    assert got.json() == body
    pinned = await api.client.patch(
        note_url, json={"pinned": True}, headers={**auth, "If-Match": '"1"'}
    )
    assert (pinned.status_code, pinned.json()["pinned"], pinned.headers["etag"]) == (
        200,
        True,
        '"2"',
    )
    stale = await api.client.patch(
        note_url, json={"text": "x"}, headers={**auth, "If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "version_conflict")
    listed = await api.client.get(url, headers=auth)
    assert [n["id"] for n in listed.json()["data"]] == [body["id"]]
    topics = await db.fetch(
        "SELECT topic FROM outbox_event WHERE aggregate_id = $1::uuid ORDER BY occurred_at",
        body["id"],
    )
    assert [t["topic"] for t in topics] == ["note.added", "note.updated"]
    assert (await api.client.delete(note_url, headers=auth)).status_code == 204
    assert (await api.client.get(note_url, headers=auth)).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM note WHERE id = $1::uuid", body["id"]) == 0


async def test_pinned_first_then_newest_in_pages(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    url = f"/v1/contacts/{await record(api, auth, 'contacts')}/notes"
    for i in range(5):
        await add(api, auth, url, text=f"n{i}", pinned=i in (1, 3))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.client.get(url, params=params, headers=auth)).json()
        seen += [n["text"] for n in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["n3", "n1", "n4", "n2", "n0"]
    bad = await api.client.get(url, params={"cursor": "garbage"}, headers=auth)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize(
    "body",
    [{"text": ""}, {"text": "   "}, {"text": "x" * 10_001}, {}, {"text": "a", "author_id": "x"}],
)
async def test_bad_note_bodies_are_refused(api: Api, db: asyncpg.Connection, body: Any) -> None:
    auth, ws = await owner_of(api.client)
    url = f"/v1/contacts/{await record(api, auth, 'contacts')}/notes"
    refused = await api.client.post(url, json=body, headers=auth)
    assert refused.status_code == 422, refused.text
    assert await db.fetchval("SELECT count(*) FROM note WHERE workspace_id = $1::uuid", ws) == 0


async def test_another_workspace_records_and_notes_are_not_found(
    api: Api, db: asyncpg.Connection
) -> None:
    alpha, _ = await owner_of(api.client, "Alpha")
    beta, beta_ws = await owner_of(api.client, "Beta")
    rid = await record(api, alpha, "contacts")
    note = await add(api, alpha, f"/v1/contacts/{rid}/notes")
    for method, url in [
        ("POST", f"/v1/contacts/{rid}/notes"),
        ("GET", f"/v1/contacts/{rid}/notes"),
        ("GET", f"/v1/notes/{note['id']}"),
        ("PATCH", f"/v1/notes/{note['id']}"),
        ("DELETE", f"/v1/notes/{note['id']}"),
    ]:
        body = {"text": "Mallory"} if method in ("POST", "PATCH") else None
        answer = await api.client.request(method, url, json=body, headers=beta)
        assert answer.status_code == 404, (method, url, answer.text)
    company_note = await api.client.post(
        f"/v1/companies/{rid}/notes", json={"text": "x"}, headers=alpha
    )
    assert (company_note.status_code, company_note.json()["code"]) == (404, "company_not_found")
    assert (
        await db.fetchval("SELECT count(*) FROM note WHERE workspace_id = $1::uuid", beta_ws) == 0
    )
    assert await db.fetchval("SELECT text FROM note WHERE id = $1::uuid", note["id"]) == "Hello"


async def test_members_edit_and_delete_only_their_own_notes(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, _ = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox)
    url = f"/v1/contacts/{await record(api, owner, 'contacts')}/notes"
    owners = await add(api, owner, url, text="Owner's")
    mine = await add(api, member, url, text="Member's")
    denied = await api.client.patch(f"/v1/notes/{owners['id']}", json={"text": "x"}, headers=member)
    assert (denied.status_code, denied.json()["code"]) == (403, "role_forbidden")
    gone = await api.client.delete(f"/v1/notes/{owners['id']}", headers=member)
    assert gone.status_code == 403
    assert await db.fetchval("SELECT text FROM note WHERE id = $1::uuid", owners["id"]) == "Owner's"
    own = await api.client.patch(f"/v1/notes/{mine['id']}", json={"text": "Edited"}, headers=member)
    assert (own.status_code, own.json()["text"]) == (200, "Edited")
    by_owner = await api.client.delete(f"/v1/notes/{mine['id']}", headers=owner)
    assert by_owner.status_code == 204


async def test_a_key_needs_the_record_scopes(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    url = f"/v1/contacts/{await record(api, owner, 'contacts')}/notes"
    await add(api, owner, url)
    made = await api.client.post(
        "/v1/api-keys", json={"name": "ro", "scopes": ["contacts:read"]}, headers=owner
    )
    key = {"Authorization": f"Bearer {made.json()['secret']}"}
    assert (await api.client.get(url, headers=key)).status_code == 200
    refused = await api.client.post(url, json={"text": "x"}, headers=key)
    assert refused.status_code == 403


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals"])
async def test_deleting_a_record_deletes_its_notes(
    api: Api, db: asyncpg.Connection, kind: str
) -> None:
    auth, _ = await owner_of(api.client)
    doomed, kept = await record(api, auth, kind), await record(api, auth, kind)
    gone = await add(api, auth, f"/v1/{kind}/{doomed}/notes")
    stays = await add(api, auth, f"/v1/{kind}/{kept}/notes")
    assert (await api.client.delete(f"/v1/{kind}/{doomed}", headers=auth)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM note WHERE id = $1::uuid", gone["id"]) == 0
    assert await db.fetchval("SELECT count(*) FROM note WHERE id = $1::uuid", stays["id"]) == 1
    missing = await api.client.get(f"/v1/{kind}/{doomed}/notes", headers=auth)
    assert missing.status_code == 404


@pytest.mark.parametrize("body", [{"text": None}, {"pinned": None}, {"text": ""}, {"x": 1}])
async def test_bad_note_updates_are_refused(
    api: Api, db: asyncpg.Connection, body: dict[str, Any]
) -> None:
    auth, _ = await owner_of(api.client)
    note = await add(api, auth, f"/v1/contacts/{await record(api, auth, 'contacts')}/notes")
    refused = await api.client.patch(f"/v1/notes/{note['id']}", json=body, headers=auth)
    assert refused.status_code == 422, refused.text
    stored = await db.fetchrow("SELECT text, version FROM note WHERE id = $1::uuid", note["id"])
    assert stored is not None
    assert (stored["text"], stored["version"]) == ("Hello", 1)
