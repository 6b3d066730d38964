"""Devices and notification settings over HTTP: a signed-in person's own, on real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from tests.support.api import Api
from tests.support.people import owner_of, sign_in

DEVICES = "/v1/devices"
SETTINGS = "/v1/me/notification-settings"


def token() -> str:
    return f"fcm-{uuid.uuid4().hex}:{uuid.uuid4().hex}"


async def register(api: Api, who: dict[str, str], **body: Any) -> dict[str, Any]:
    made = await api.client.post(DEVICES, json={"platform": "ios", **body}, headers=who)
    assert made.status_code in (200, 201), made.text
    return dict(made.json())


async def test_registering_again_updates_the_same_device(api: Api) -> None:
    ada, fcm = sign_in("ada@example.com"), token()
    first = await api.client.post(
        DEVICES, json={"token": fcm, "platform": "ios", "app_version": "1.0"}, headers=ada
    )
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/v1/devices/{first.json()['id']}"
    again = await api.client.post(
        DEVICES, json={"token": fcm, "platform": "android", "app_version": "1.1"}, headers=ada
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created_at"] == first.json()["created_at"]
    assert (again.json()["platform"], again.json()["app_version"]) == ("android", "1.1")
    listed = (await api.client.get(DEVICES, headers=ada)).json()
    assert [d["id"] for d in listed["data"]] == [first.json()["id"]]
    got = await api.client.get(f"{DEVICES}/{first.json()['id']}", headers=ada)
    assert got.status_code == 200
    assert got.json()["token"] == fcm


async def test_a_token_moves_to_whoever_registers_it(api: Api, db: asyncpg.Connection) -> None:
    ada, bob, fcm = sign_in("ada@example.com"), sign_in("bob@example.com"), token()
    adas = await register(api, ada, token=fcm)
    bobs = await api.client.post(DEVICES, json={"token": fcm, "platform": "web"}, headers=bob)
    assert bobs.status_code == 201, bobs.text
    assert bobs.json()["id"] != adas["id"]
    assert (await api.client.get(DEVICES, headers=ada)).json()["data"] == []
    assert [d["token"] for d in (await api.client.get(DEVICES, headers=bob)).json()["data"]] == [
        fcm
    ]
    assert await db.fetchval("SELECT count(*) FROM device WHERE token = $1", fcm) == 1
    gone = await api.client.get(f"{DEVICES}/{adas['id']}", headers=ada)
    assert (gone.status_code, gone.json()["code"]) == (404, "device_not_found")


async def test_people_see_and_delete_only_their_own_devices(api: Api) -> None:
    ada, bob = sign_in("ada@example.com"), sign_in("bob@example.com")
    adas = [await register(api, ada, token=token()) for _ in range(3)]
    bobs = await register(api, bob, token=token(), platform="android")
    page = await api.client.get(DEVICES, params={"limit": 2}, headers=ada)
    rest = await api.client.get(
        DEVICES, params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=ada
    )
    assert [d["id"] for d in page.json()["data"] + rest.json()["data"]] == [d["id"] for d in adas]
    assert rest.json()["next_cursor"] is None
    assert bobs["token"] not in page.text + rest.text

    for method in ("GET", "DELETE"):
        other = await api.client.request(method, f"{DEVICES}/{bobs['id']}", headers=ada)
        nowhere = await api.client.request(method, f"{DEVICES}/{uuid.uuid4()}", headers=ada)
        assert other.status_code == nowhere.status_code == 404
        assert other.json()["code"] == nowhere.json()["code"] == "device_not_found"
        assert bobs["token"] not in other.text
    deleted = await api.client.delete(f"{DEVICES}/{adas[0]['id']}", headers=ada)
    assert deleted.status_code == 204
    assert len((await api.client.get(DEVICES, headers=ada)).json()["data"]) == 2
    assert len((await api.client.get(DEVICES, headers=bob)).json()["data"]) == 1


async def test_a_person_keeps_their_twenty_newest_devices(api: Api) -> None:
    ada = sign_in("ada@example.com")
    made = [await register(api, ada, token=token()) for _ in range(21)]
    kept = (await api.client.get(DEVICES, params={"limit": 50}, headers=ada)).json()["data"]
    assert [d["id"] for d in kept] == [d["id"] for d in made[1:]]


async def test_devices_and_settings_are_for_people_not_api_keys(api: Api) -> None:
    key = await api.key()
    calls = [
        ("POST", DEVICES, {"token": token(), "platform": "ios"}),
        ("GET", DEVICES, None),
        ("GET", f"{DEVICES}/{uuid.uuid4()}", None),
        ("DELETE", f"{DEVICES}/{uuid.uuid4()}", None),
        ("GET", SETTINGS, None),
        ("PATCH", SETTINGS, {"muted": ["task_due"]}),
    ]
    for method, path, body in calls:
        r = await api.client.request(method, path, json=body, headers=key)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["code"] == "person_required"
    unsigned = await api.client.get(DEVICES)
    assert unsigned.status_code == 401


async def test_a_person_acting_in_a_workspace_has_the_same_devices(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    made = await register(api, owner, token=token())
    without = {"Authorization": owner["Authorization"]}
    assert [d["id"] for d in (await api.client.get(DEVICES, headers=without)).json()["data"]] == [
        made["id"]
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "ios"}, "/token"),
        ({"token": "", "platform": "ios"}, "/token"),
        ({"token": "a b", "platform": "ios"}, "/token"),
        ({"token": "x" * 4097, "platform": "ios"}, "/token"),
        ({"token": "t", "platform": "symbian"}, "/platform"),
        ({"token": "t", "platform": "ios", "app_version": "v" * 65}, "/app_version"),
        ({"token": "t", "platform": "ios", "owner": "me"}, "/owner"),
    ],
)
async def test_bad_registrations_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    r = await api.client.post(DEVICES, json=body, headers=sign_in("ada@example.com"))
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}


async def test_notification_settings_default_change_and_restore(api: Api) -> None:
    ada = sign_in("ada@example.com")
    first = await api.client.get(SETTINGS, headers=ada)
    assert first.status_code == 200
    assert first.json() == {
        "muted": [],
        "reminder_lead_minutes": 15,
        "version": 1,
        "updated_at": None,
    }
    assert first.headers["ETag"] == '"1"'
    changed = await api.client.patch(
        SETTINGS,
        json={"muted": ["task_due", "deal_owner_changed", "task_due"], "reminder_lead_minutes": 0},
        headers={**ada, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["muted"] == ["deal_owner_changed", "task_due"]
    assert (body["reminder_lead_minutes"], body["version"]) == (0, 2)
    assert changed.headers["ETag"] == '"2"'
    stale = await api.client.patch(
        SETTINGS, json={"reminder_lead_minutes": 5}, headers={**ada, "If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "version_conflict")
    same = await api.client.patch(SETTINGS, json={"reminder_lead_minutes": 0}, headers=ada)
    assert same.json()["version"] == 2
    restored = await api.client.patch(
        SETTINGS, json={"muted": None, "reminder_lead_minutes": None}, headers=ada
    )
    assert (restored.json()["muted"], restored.json()["reminder_lead_minutes"]) == ([], 15)
    assert restored.json()["version"] == 3
    others = await api.client.get(SETTINGS, headers=sign_in("bob@example.com"))
    assert others.json()["version"] == 1
    cached = await api.client.get(SETTINGS, headers={**ada, "If-None-Match": '"3"'})
    assert cached.status_code == 304


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"muted": ["task_due", "birthdays"]}, "/muted/1"),
        ({"muted": "task_due"}, "/muted"),
        ({"reminder_lead_minutes": -1}, "/reminder_lead_minutes"),
        ({"reminder_lead_minutes": 10081}, "/reminder_lead_minutes"),
        ({"reminder_lead_minutes": 1.5}, "/reminder_lead_minutes"),
        ({"sound": "off"}, "/sound"),
    ],
)
async def test_bad_settings_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    r = await api.client.patch(SETTINGS, json=body, headers=sign_in("ada@example.com"))
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}
