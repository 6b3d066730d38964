"""Push notifications end to end: a write over HTTP, the outbox, the relay, the in-process
queue, the consumers' handlers, and the real firebase-admin SDK sending to a local stub of
the FCM HTTP v1 endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest_asyncio

from tests.support.api import Api, running_api, settings_for_tests
from tests.support.fcm_stub import FcmStub
from tests.support.people import PROJECT_ID, join, owner_of


@dataclass
class World:
    api: Api
    fcm: FcmStub
    owner: dict[str, str]
    workspace_id: str

    async def deliver(self) -> None:
        """Relay every committed event and handle every message."""
        events = self.api.container.events
        while await events.relay.execute():
            pass
        while await events.consumer.execute():
            pass

    async def person(self, devices: int = 1) -> tuple[dict[str, str], str, list[str]]:
        """A new member with `devices` registered: headers, user id, tokens."""
        headers, user_id = await join(self.api.client, self.owner, self.api.mailbox)
        tokens = [await self.device(headers) for _ in range(devices)]
        return headers, user_id, tokens

    async def device(self, headers: dict[str, str]) -> str:
        token = f"fcm-{uuid.uuid4().hex}"
        made = await self.api.client.post(
            "/v1/devices", json={"token": token, "platform": "android"}, headers=headers
        )
        assert made.status_code == 201, made.text
        return token

    async def post(self, path: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        made = await self.api.client.post(path, json=body, headers=headers)
        assert made.status_code == 201, made.text
        return dict(made.json())

    async def patch(self, path: str, headers: dict[str, str], **body: Any) -> None:
        changed = await self.api.client.patch(path, json=body, headers=headers)
        assert changed.status_code == 200, changed.text

    def kinds(self, token: str) -> list[str]:
        return [m["data"]["kind"] for m in self.fcm.to(token)]


@pytest_asyncio.fixture
async def world(database_url: str, redis_url: str) -> AsyncIterator[World]:
    with FcmStub(PROJECT_ID) as fcm:
        settings = settings_for_tests(
            database_url, redis_url, fcm_enabled=True, fcm_url=fcm.url, sqs_wait_seconds=0
        )
        async with running_api(settings) as api:
            owner, workspace_id = await owner_of(api.client)
            yield World(api, fcm, owner, workspace_id)
        assert fcm.violations == []


async def test_a_task_assigned_to_me_reaches_each_of_my_devices(world: World) -> None:
    _, bob, bobs = await world.person(devices=2)
    owners = await world.device(world.owner)
    task = await world.post(
        "/v1/tasks",
        world.owner,
        title="Send the quote",
        assignee_id=bob,
        due_at="2026-12-24T09:00:00Z",
    )
    await world.deliver()
    for token in bobs:
        [sent] = world.fcm.to(token)
        assert sent["notification"] == {"title": "New task for you", "body": "Send the quote"}
        assert sent["data"]["kind"] == "task_assigned"
        assert sent["data"]["task_id"] == task["id"]
        assert sent["data"]["workspace_id"] == world.workspace_id
        assert sent["data"]["due_at"] == "2026-12-24T09:00:00+00:00"
        assert sent["android"]["priority"] == "high"
    assert world.fcm.to(owners) == []


async def test_nobody_is_told_of_their_own_change(world: World) -> None:
    bob_headers, bob, bobs = await world.person()
    mine = await world.post("/v1/tasks", bob_headers, title="Note to self", assignee_id=bob)
    await world.post("/v1/deals", bob_headers, name="My own deal", owner_id=bob)
    await world.deliver()
    assert world.kinds(bobs[0]) == []
    await world.patch(f"/v1/tasks/{mine['id']}", world.owner, title="Note to Bob")
    await world.deliver()
    assert world.kinds(bobs[0]) == []  # not an assignment: the assignee did not change


async def test_reassigning_a_task_and_handing_over_a_deal(world: World) -> None:
    _, bob, bobs = await world.person()
    _, cara, caras = await world.person()
    task = await world.post("/v1/tasks", world.owner, title="Follow up", assignee_id=bob)
    deal = await world.post("/v1/deals", world.owner, name="Big one", owner_id=bob)
    await world.deliver()
    assert sorted(world.kinds(bobs[0])) == ["deal_owner_changed", "task_assigned"]
    await world.patch(f"/v1/tasks/{task['id']}", world.owner, assignee_id=cara)
    await world.patch(f"/v1/deals/{deal['id']}", world.owner, owner_id=cara)
    await world.deliver()
    assert sorted(world.kinds(caras[0])) == ["deal_owner_changed", "task_assigned"]
    [deal_push] = [m for m in world.fcm.to(caras[0]) if m["data"]["kind"] == "deal_owner_changed"]
    assert deal_push["data"]["deal_id"] == deal["id"]
    assert deal_push["notification"]["body"] == "Big one"
    assert len(world.kinds(bobs[0])) == 2


async def test_a_change_since_made_is_not_announced_late(world: World) -> None:
    _, bob, bobs = await world.person()
    _, cara, caras = await world.person()
    task = await world.post("/v1/tasks", world.owner, title="Quick one", assignee_id=bob)
    await world.patch(f"/v1/tasks/{task['id']}", world.owner, assignee_id=cara)
    await world.deliver()  # the task is Cara's by the time its creation is handled
    assert world.kinds(bobs[0]) == []
    assert world.kinds(caras[0]) == ["task_assigned"]


async def test_an_api_key_is_an_actor_too(world: World) -> None:
    _, bob, bobs = await world.person()
    made = await world.post("/v1/api-keys", world.owner, name="sync", scopes=["admin"])
    key = {"Authorization": f"Bearer {made['secret']}"}
    await world.post("/v1/tasks", key, title="From the sync", assignee_id=bob)
    await world.deliver()
    assert world.kinds(bobs[0]) == ["task_assigned"]


async def test_muted_kinds_are_not_sent(world: World) -> None:
    bob_headers, bob, bobs = await world.person()
    muted = await world.api.client.patch(
        "/v1/me/notification-settings", json={"muted": ["task_assigned"]}, headers=bob_headers
    )
    assert muted.status_code == 200, muted.text
    await world.post("/v1/tasks", world.owner, title="Quiet", assignee_id=bob)
    await world.post("/v1/deals", world.owner, name="Loud", owner_id=bob)
    await world.deliver()
    assert world.kinds(bobs[0]) == ["deal_owner_changed"]


async def test_unregistered_tokens_are_pruned(world: World, db: asyncpg.Connection) -> None:
    bob_headers, bob, (gone, kept) = await world.person(devices=2)
    world.fcm.dead.add(gone)
    await world.post("/v1/tasks", world.owner, title="Still reaches", assignee_id=bob)
    await world.deliver()
    assert world.kinds(kept) == ["task_assigned"]
    assert world.fcm.to(gone) == []
    listed = (await world.api.client.get("/v1/devices", headers=bob_headers)).json()["data"]
    assert [d["token"] for d in listed] == [kept]
    assert await db.fetchval("SELECT count(*) FROM device WHERE token = $1", gone) == 0


async def test_an_event_delivered_twice_is_pushed_once(
    world: World, db: asyncpg.Connection
) -> None:
    _, bob, bobs = await world.person()
    await world.post("/v1/tasks", world.owner, title="Once", assignee_id=bob)
    await world.deliver()
    await db.execute("UPDATE outbox_event SET published_at = NULL")  # a relay that sends again
    await world.deliver()
    assert world.kinds(bobs[0]) == ["task_assigned"]


async def test_a_person_without_devices_gets_nothing_sent(world: World) -> None:
    _, bob, _ = await world.person(devices=0)
    await world.post("/v1/tasks", world.owner, title="Nobody listens", assignee_id=bob)
    await world.post("/v1/deals", world.owner, name="Nor here", owner_id=bob)
    await world.deliver()
    assert world.fcm.received == []


def _due(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def test_due_tasks_are_reminded_once_per_due_time(world: World) -> None:
    bob_headers, bob, (phone,) = await world.person()
    reminders = world.api.container.reminders
    moved = await world.post(
        "/v1/tasks", world.owner, title="Moved", assignee_id=bob, due_at=_due(5)
    )
    done = await world.post("/v1/tasks", world.owner, title="Done", assignee_id=bob, due_at=_due(5))
    gone = await world.post("/v1/tasks", world.owner, title="Gone", assignee_id=bob, due_at=_due(5))
    later = await world.post(
        "/v1/tasks", world.owner, title="Later", assignee_id=bob, due_at=_due(60)
    )
    assert (
        await world.api.client.post(f"/v1/tasks/{done['id']}/done", headers=world.owner)
    ).is_success
    assert (
        await world.api.client.delete(f"/v1/tasks/{gone['id']}", headers=world.owner)
    ).is_success

    await reminders.execute()
    await reminders.execute()
    [first] = world.fcm.to(phone)
    assert first["data"]["kind"] == "task_due"
    assert first["data"]["task_id"] == moved["id"]
    assert first["notification"]["body"] == "Moved"
    assert first["notification"]["title"] in ("Task due in 5 min", "Task due in 4 min")

    await world.patch(f"/v1/tasks/{moved['id']}", world.owner, due_at=_due(10))
    await reminders.execute()
    assert [m["data"]["task_id"] for m in world.fcm.to(phone)] == [moved["id"]] * 2

    await world.patch("/v1/me/notification-settings", bob_headers, reminder_lead_minutes=120)
    await reminders.execute()
    assert [m["data"]["task_id"] for m in world.fcm.to(phone)][-1] == later["id"]
    assert len(world.fcm.to(phone)) == 3


async def test_a_muted_reminder_is_not_sent(world: World) -> None:
    bob_headers, bob, (phone,) = await world.person()
    await world.patch("/v1/me/notification-settings", bob_headers, muted=["task_due"])
    await world.post("/v1/tasks", world.owner, title="Quiet", assignee_id=bob, due_at=_due(5))
    await world.api.container.reminders.execute()
    assert world.fcm.to(phone) == []
