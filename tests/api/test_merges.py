"""Merging contacts and companies end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest
from starlette.requests import Request

from crm.domain.errors import TransactionAborted
from crm.entrypoints.api import errors
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.people import owner_of

Auth = dict[str, str]


async def made(api: Api, auth: Auth, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.client.post(url, json=body, headers=auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def put(api: Api, auth: Auth, url: str) -> None:
    r = await api.client.put(url, headers=auth)
    assert r.status_code in (200, 201), r.text


async def ids_of(api: Api, auth: Auth, url: str, key: str | None = None) -> list[str]:
    r = await api.client.get(url, headers=auth)
    assert r.status_code == 200, r.text
    return [(item[key] if key else item)["id"] for item in r.json()["data"]]


async def test_merging_two_contacts_moves_everything_to_the_survivor(
    api: Api, db: asyncpg.Connection
) -> None:
    auth, _ = await owner_of(api.client)
    survivor = await made(api, auth, "/v1/contacts", {"first_name": "Ada", "emails": ["ada@x.io"]})
    source = await made(
        api,
        auth,
        "/v1/contacts",
        {
            "first_name": "Augusta",
            "last_name": "King",
            "emails": ["augusta@x.io"],
            "tags": ["vip"],
            "external_id": "erp-7",
        },
    )
    s, src = survivor["id"], source["id"]
    acme = await made(api, auth, "/v1/companies", {"name": "Acme"})
    await put(api, auth, f"/v1/contacts/{src}/companies/{acme['id']}")
    deal = await made(api, auth, "/v1/deals", {"name": "Big one"})
    await put(api, auth, f"/v1/deals/{deal['id']}/contacts/{src}")
    note = await made(api, auth, f"/v1/contacts/{src}/notes", {"text": "Met at the fair"})
    body = {"title": "Call back", "record_type": "contact", "record_id": src}
    task = await made(api, auth, "/v1/tasks", body)

    merged = await api.client.post(
        f"/v1/contacts/{s}/merge", json={"source_id": src}, headers={**auth, "If-Match": '"1"'}
    )

    assert merged.status_code == 200, merged.text
    got = merged.json()
    assert (got["first_name"], got["last_name"], got["tags"]) == ("Ada", "King", ["vip"])
    assert got["emails"] == ["ada@x.io", "augusta@x.io"]
    # Unique per workspace like emails: the source let go of it before the survivor took it.
    assert got["external_id"] == "erp-7"
    assert merged.headers["etag"] == f'"{got["version"]}"' == '"2"'
    assert (await api.client.get(f"/v1/contacts/{s}", headers=auth)).json() == got
    assert await ids_of(api, auth, f"/v1/contacts/{s}/companies", "company") == [acme["id"]]
    assert await ids_of(api, auth, f"/v1/contacts/{s}/deals", "deal") == [deal["id"]]
    assert await ids_of(api, auth, f"/v1/contacts/{s}/notes") == [note["id"]]
    moved_task = (await api.client.get(f"/v1/tasks/{task['id']}", headers=auth)).json()
    assert moved_task["record_id"] == s

    gone = await api.client.get(f"/v1/contacts/{src}", headers=auth)
    problem = gone.json()
    assert (gone.status_code, problem["code"], problem["merged_into"]) == (404, "contact_merged", s)
    assert s in problem["detail"]
    assert gone.headers["content-type"] == "application/problem+json"
    patched = await api.client.patch(f"/v1/contacts/{src}", json={"first_name": "X"}, headers=auth)
    assert (patched.status_code, patched.json()["merged_into"]) == (404, s)
    deleted = await api.client.delete(f"/v1/contacts/{src}", headers=auth)
    assert (deleted.status_code, deleted.json()["code"]) == (404, "contact_merged")
    # The source's email went with its data: it belongs to the survivor now.
    taken = await api.client.post("/v1/contacts", json={"emails": ["augusta@x.io"]}, headers=auth)
    assert taken.status_code == 409
    # A plain unknown id has no `merged_into`.
    unknown = (await api.client.get(f"/v1/contacts/{uuid.uuid4()}", headers=auth)).json()
    assert (unknown["code"], "merged_into" in unknown) == ("contact_not_found", False)

    row = await db.fetchrow(
        "SELECT actor_id, payload FROM outbox_event WHERE topic = 'contact.merged'"
        " AND aggregate_id = $1",
        uuid.UUID(s),
    )
    assert row is not None
    payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    assert payload["source_id"] == src
    assert payload["moved"] == {"company_links": 1, "deals": 1, "notes": 1, "tasks": 1}
    assert payload["changes"]["last_name"] == {"old": None, "new": "King"}
    assert await db.fetchval("SELECT count(*) FROM contact WHERE id = $1", uuid.UUID(src)) == 0
    grave = await db.fetchrow("SELECT merged_into FROM merged_record WHERE id = $1", uuid.UUID(src))
    assert grave is not None
    assert str(grave["merged_into"]) == s


async def test_what_a_contact_merge_refuses(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    a = await made(api, auth, "/v1/contacts", {"first_name": "Ada"})
    b = await made(api, auth, "/v1/contacts", {"first_name": "Bea"})
    url = f"/v1/contacts/{a['id']}/merge"

    itself = await api.client.post(url, json={"source_id": a["id"]}, headers=auth)
    assert (itself.status_code, itself.json()["code"]) == (422, "merge_into_self")
    nowhere = await api.client.post(url, json={"source_id": str(uuid.uuid4())}, headers=auth)
    problem = nowhere.json()
    assert (nowhere.status_code, problem["code"]) == (404, "contact_not_found")
    assert [e["field"] for e in problem["errors"]] == ["/source_id"]
    stale = await api.client.post(
        url, json={"source_id": b["id"]}, headers={**auth, "If-Match": '"9"'}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "version_conflict")
    unknown_field = await api.client.post(
        url, json={"source_id": b["id"], "extra": 1}, headers=auth
    )
    assert unknown_field.status_code == 422
    assert (
        await api.client.post(url, json={"source_id": b["id"]}, headers=auth)
    ).status_code == 200
    again = await api.client.post(url, json={"source_id": b["id"]}, headers=auth)
    assert (again.status_code, again.json()["code"]) == (404, "contact_merged")
    assert again.json()["merged_into"] == a["id"]
    into_gone = await api.client.post(
        f"/v1/contacts/{b['id']}/merge", json={"source_id": a["id"]}, headers=auth
    )
    assert (into_gone.status_code, into_gone.json()["merged_into"]) == (404, a["id"])


async def test_merging_two_companies_moves_contacts_and_deals(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    survivor = await made(api, auth, "/v1/companies", {"name": "Acme"})
    source = await made(
        api, auth, "/v1/companies", {"name": "ACME Ltd", "domain": "acme.io", "country": "GB"}
    )
    s, src = survivor["id"], source["id"]
    both = await made(api, auth, "/v1/contacts", {"first_name": "Both"})
    only = await made(api, auth, "/v1/contacts", {"first_name": "Only"})
    await put(api, auth, f"/v1/contacts/{both['id']}/companies/{src}")
    await put(api, auth, f"/v1/contacts/{both['id']}/companies/{s}")
    await put(api, auth, f"/v1/contacts/{only['id']}/companies/{src}")
    deal = await made(api, auth, "/v1/deals", {"name": "Big one"})
    await put(api, auth, f"/v1/deals/{deal['id']}/companies/{src}")
    note = await made(api, auth, f"/v1/companies/{src}/notes", {"text": "Renewal in May"})

    merged = await api.client.post(
        f"/v1/companies/{s}/merge", json={"source_id": src}, headers=auth
    )

    assert merged.status_code == 200, merged.text
    got = merged.json()
    assert (got["name"], got["domain"], got["country"]) == ("Acme", "acme.io", "GB")
    contacts = await api.client.get(f"/v1/companies/{s}/contacts", headers=auth)
    rows = {x["contact"]["id"]: x["is_primary"] for x in contacts.json()["data"]}
    # `both` had the source as its primary company: the survivor is its primary now.
    assert rows == {both["id"]: True, only["id"]: True}
    assert await ids_of(api, auth, f"/v1/companies/{s}/deals", "deal") == [deal["id"]]
    assert await ids_of(api, auth, f"/v1/companies/{s}/notes") == [note["id"]]
    gone = await api.client.get(f"/v1/companies/{src}", headers=auth)
    assert (gone.status_code, gone.json()["code"], gone.json()["merged_into"]) == (
        404,
        "company_merged",
        s,
    )
    found = await api.client.get("/v1/companies", params={"domain": "acme.io"}, headers=auth)
    assert [c["id"] for c in found.json()["data"]] == [s]


async def test_another_workspace_can_neither_merge_nor_see_a_merged_record(api: Api) -> None:
    a_auth, _ = await owner_of(api.client, "Alpha")
    b_auth, _ = await owner_of(api.client, "Beta")
    a1 = await made(api, a_auth, "/v1/contacts", {"first_name": "Alpha One"})
    a2 = await made(api, a_auth, "/v1/contacts", {"first_name": "Alpha Two"})
    mine = await made(api, b_auth, "/v1/contacts", {"first_name": "Beta"})
    # B names A's contact as the source: not found, exactly as an id that exists nowhere.
    url = f"/v1/contacts/{mine['id']}/merge"
    stolen = await api.client.post(url, json={"source_id": a1["id"]}, headers=b_auth)
    nowhere_id = str(uuid.uuid4())
    control = await api.client.post(url, json={"source_id": nowhere_id}, headers=b_auth)
    assert stolen.status_code == control.status_code == 404
    assert stolen.json()["detail"].replace(a1["id"], "X") == control.json()["detail"].replace(
        nowhere_id, "X"
    )
    assert (await api.client.get(f"/v1/contacts/{a1['id']}", headers=a_auth)).json() == a1
    # A merges; B still sees a plain not found, without `merged_into`.
    merge = f"/v1/contacts/{a2['id']}/merge"
    assert (await api.client.post(merge, json={"source_id": a1["id"]}, headers=a_auth)).is_success
    seen = (await api.client.get(f"/v1/contacts/{a1['id']}", headers=b_auth)).json()
    assert (seen["code"], "merged_into" in seen) == ("contact_not_found", False)


async def test_a_merge_sent_twice_with_one_idempotency_key_happens_once(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    a = await made(api, auth, "/v1/contacts", {"first_name": "Ada"})
    b = await made(api, auth, "/v1/contacts", {"first_name": "Bea", "last_name": "King"})
    headers = {**auth, "Idempotency-Key": f"merge-{uuid.uuid4()}"}
    url, body = f"/v1/contacts/{a['id']}/merge", {"source_id": b["id"]}
    first = await api.client.post(url, json=body, headers=headers)
    again = await api.client.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["last_name"] == "King"


async def test_reading_a_record_is_one_statement_and_only_a_miss_reads_tombstones(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every asyncpg connection logs what it sends: a read of an existing contact or company
    is one SELECT; the tombstone is looked up only when the record is not there."""
    sent: list[str] = []
    init = asyncpg.Connection.__init__

    def logging_init(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.add_query_logger(lambda record: sent.append(record.query))

    async def statements(api: Api, path: str, auth: Auth) -> tuple[int, list[str]]:
        await asyncio.sleep(0)  # loggers run soon after the statement, on the event loop
        sent.clear()
        r = await api.client.get(path, headers=auth)
        await asyncio.sleep(0)
        return r.status_code, [" ".join(q.split()) for q in sent]

    monkeypatch.setattr(asyncpg.Connection, "__init__", logging_init)
    settings = settings_for_tests(database_url, redis_url, auth_cache_ttl_seconds=3600)
    async with running_api(settings) as api:
        auth = await api.key()
        kinds = (
            ("contacts", "contact", {"first_name": "Ada"}),
            ("companies", "company", {"name": "A"}),
        )
        for kind, table, body in kinds:
            survivor = await made(api, auth, f"/v1/{kind}", body)
            source = await made(api, auth, f"/v1/{kind}", body)
            merged = await api.client.post(
                f"/v1/{kind}/{survivor['id']}/merge", json={"source_id": source["id"]}, headers=auth
            )
            assert merged.status_code == 200, merged.text
            await statements(api, f"/v1/{kind}/{survivor['id']}", auth)  # warm up
            status, [read] = await statements(api, f"/v1/{kind}/{survivor['id']}", auth)
            assert (status, read.startswith("SELECT ")) == (200, True), read
            assert "merged_record" not in read
            status, [miss, grave] = await statements(api, f"/v1/{kind}/{source['id']}", auth)
            assert status == 404
            assert f"FROM {table} " in miss, miss
            assert "FROM merged_record" in grave, grave


async def test_a_transaction_the_database_aborted_is_a_retryable_problem() -> None:
    request = Request({"type": "http", "path": "/v1/contacts/x/merge", "headers": []})
    answer = await errors.service_unavailable(request, TransactionAborted("lost a race"))
    body = json.loads(bytes(answer.body))
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "1")
    assert (body["code"], body["status"]) == ("concurrent_change", 503)
