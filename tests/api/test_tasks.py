"""Tasks end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support.api import Api
from tests.support.people import join, owner_of


async def create(api: Api, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    made = await api.client.post("/v1/tasks", json={"title": "Call back", **body}, headers=auth)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def deal(api: Api, auth: dict[str, str]) -> str:
    made = await api.client.post("/v1/deals", json={"name": "Big one"}, headers=auth)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_the_whole_journey(api: Api, db: asyncpg.Connection) -> None:
    auth, _ = await owner_of(api.client)
    did = await deal(api, auth)
    created = await api.client.post(
        "/v1/tasks",
        json={
            "title": "Send the quote",
            "due_at": "2026-12-01T09:00:00+01:00",
            "priority": "high",
            "record_type": "deal",
            "record_id": did,
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    url = f"/v1/tasks/{body['id']}"
    assert created.headers["location"] == url
    assert (body["done"], body["due_at"], body["priority"], body["record_id"]) == (
        False,
        "2026-12-01T08:00:00Z",
        "high",
        did,
    )
    assert (await api.client.get(url, headers=auth)).json() == body
    done = await api.client.post(f"{url}/done", headers={**auth, "If-Match": '"1"'})
    assert (done.status_code, done.json()["done"], done.headers["etag"]) == (200, True, '"2"')
    stale = await api.client.post(f"{url}/undone", headers={**auth, "If-Match": '"1"'})
    assert (stale.status_code, stale.json()["code"]) == (412, "version_conflict")
    undone = await api.client.post(f"{url}/undone", headers=auth)
    assert (undone.json()["done"], undone.json()["done_at"]) == (False, None)
    patched = await api.client.patch(url, json={"due_at": None, "title": "Quote"}, headers=auth)
    assert (patched.status_code, patched.json()["due_at"], patched.json()["title"]) == (
        200,
        None,
        "Quote",
    )
    topics = await db.fetch(
        "SELECT topic FROM outbox_event WHERE aggregate_id = $1::uuid ORDER BY occurred_at",
        body["id"],
    )
    assert [t["topic"] for t in topics] == [
        "task.created",
        "task.completed",
        "task.reopened",
        "task.updated",
    ]
    on_deal = await api.client.get(
        "/v1/tasks", params={"record_type": "deal", "record_id": did}, headers=auth
    )
    assert [t["id"] for t in on_deal.json()["data"]] == [body["id"]]
    assert (await api.client.delete(url, headers=auth)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM task WHERE id = $1::uuid", body["id"]) == 0


async def test_my_open_tasks_overdue_first_in_pages(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    me, my_id = await join(api.client, owner, api.mailbox)
    for title, due in [
        ("none 1", None),
        ("later", "2030-01-01T00:00:00Z"),
        ("overdue", "2020-01-01T00:00:00Z"),
        ("none 2", None),
        ("soon", "2027-01-01T00:00:00Z"),
    ]:
        await create(api, owner, title=title, due_at=due, assignee_id=my_id)
    done = await create(api, owner, title="done", assignee_id=my_id)
    await api.client.post(f"/v1/tasks/{done['id']}/done", headers=owner)
    await create(api, owner, title="owner's own", due_at="2019-01-01T00:00:00Z")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.client.get("/v1/tasks/mine", params=params, headers=me)
        assert page.status_code == 200, page.text
        seen += [t["title"] for t in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["overdue", "soon", "later", "none 1", "none 2"]
    same = await api.client.get(
        "/v1/tasks", params={"assignee": "me", "status": "open"}, headers=me
    )
    assert [t["title"] for t in same.json()["data"]] == seen
    everyone = await api.client.get("/v1/tasks", params={"status": "done"}, headers=owner)
    assert [t["title"] for t in everyone.json()["data"]] == ["done"]


async def test_me_is_a_person_not_a_key(api: Api) -> None:
    key = await api.key()
    mine = await api.client.get("/v1/tasks/mine", headers=key)
    assert (mine.status_code, mine.json()["code"]) == (403, "person_required")
    listed = await api.client.get("/v1/tasks", params={"assignee": "me"}, headers=key)
    assert (listed.status_code, listed.json()["code"]) == (403, "person_required")


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x", "priority": "urgent"},
        {"title": "x", "due_at": "2026-12-01T09:00:00"},
        {"title": "x", "record_type": "deal"},
        {"title": "x", "assignee_id": "0193a5f0-0000-7000-8000-000000000001"},
        {"title": "x", "done": True},
    ],
)
async def test_bad_task_bodies_are_refused(
    api: Api, db: asyncpg.Connection, body: dict[str, Any]
) -> None:
    auth, ws = await owner_of(api.client)
    refused = await api.client.post("/v1/tasks", json=body, headers=auth)
    assert refused.status_code == 422, refused.text
    assert await db.fetchval("SELECT count(*) FROM task WHERE workspace_id = $1::uuid", ws) == 0


async def test_bad_list_queries_are_refused(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    for params in [
        {"assignee": "somebody"},
        {"record_type": "deal"},
        {"status": "maybe"},
        {"cursor": "garbage"},
    ]:
        answer = await api.client.get("/v1/tasks", params=params, headers=auth)
        assert answer.status_code == 422, (params, answer.text)


async def test_another_workspace_is_not_found(api: Api, db: asyncpg.Connection) -> None:
    alpha, _ = await owner_of(api.client, "Alpha")
    beta, beta_ws = await owner_of(api.client, "Beta")
    did = await deal(api, alpha)
    task = await create(api, alpha, record_type="deal", record_id=did)
    refused = await api.client.post(
        "/v1/tasks", json={"title": "x", "record_type": "deal", "record_id": did}, headers=beta
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "deal_not_found")
    _, alpha_member = await join(api.client, alpha, api.mailbox)
    foreign_assignee = await api.client.post(
        "/v1/tasks", json={"title": "x", "assignee_id": alpha_member}, headers=beta
    )
    assert foreign_assignee.status_code == 422
    assert (
        await db.fetchval("SELECT count(*) FROM task WHERE workspace_id = $1::uuid", beta_ws) == 0
    )
    listed = await api.client.get(
        "/v1/tasks", params={"record_type": "deal", "record_id": did}, headers=beta
    )
    assert listed.json()["data"] == []
    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/done")]:
        body = {"title": "Mallory"} if method == "PATCH" else None
        answer = await api.client.request(
            method, f"/v1/tasks/{task['id']}{suffix}", json=body, headers=beta
        )
        assert answer.status_code == 404, (method, answer.text)
    stored = await db.fetchrow("SELECT title, done_at FROM task WHERE id = $1::uuid", task["id"])
    assert stored is not None
    assert (stored["title"], stored["done_at"]) == ("Call back", None)


async def test_deleting_the_record_keeps_its_tasks_about_nothing(
    api: Api, db: asyncpg.Connection
) -> None:
    auth, _ = await owner_of(api.client)
    did = await deal(api, auth)
    task = await create(api, auth, record_type="deal", record_id=did)
    assert (await api.client.delete(f"/v1/deals/{did}", headers=auth)).status_code == 204
    kept = (await api.client.get(f"/v1/tasks/{task['id']}", headers=auth)).json()
    assert (kept["record_type"], kept["record_id"], kept["version"]) == (None, None, 2)


async def test_members_delete_only_tasks_they_created(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox)
    owners = await create(api, owner)
    refused = await api.client.delete(f"/v1/tasks/{owners['id']}", headers=member)
    assert refused.status_code == 403
    edited = await api.client.patch(
        f"/v1/tasks/{owners['id']}", json={"priority": "low"}, headers=member
    )
    assert (edited.status_code, edited.json()["priority"]) == (200, "low")
    mine = await create(api, member)
    assert (await api.client.delete(f"/v1/tasks/{mine['id']}", headers=member)).status_code == 204
