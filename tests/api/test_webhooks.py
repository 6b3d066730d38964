"""/v1/webhook-subscriptions over HTTP: who may manage them, the secret shown once, versions,
refused URLs, rotation, the test ping, the delivery log and a manual retry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import pytest_asyncio

from crm.adapters.memory.resolver import StaticResolver
from crm.adapters.system.resolver import SystemResolver
from tests.api.test_http_problems import assert_problem
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.people import in_workspace, join, owner_of
from tests.support.webhook_receiver import Answer, Receiver, webhook_receiver

BASE = "/v1/webhook-subscriptions"
PUBLIC_URL = "https://93.184.216.34/crm-hook"


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest_asyncio.fixture
async def local(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    """The API allowed to deliver to the local receiver."""
    settings = settings_for_tests(database_url, redis_url, webhook_allow_private=True)
    async with running_api(settings) as running:
        yield running


@pytest_asyncio.fixture
async def guarded(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    """The API as in production: internal addresses refused; inside.example points inside."""
    resolver = StaticResolver(
        {"inside.example": ["10.1.2.3"], "mixed.example": ["93.184.216.34", "192.168.0.9"]},
        fallback=SystemResolver(),
    )
    async with running_api(settings_for_tests(database_url, redis_url), resolver=resolver) as api:
        yield api


async def test_a_subscription_journey(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    body = {"url": PUBLIC_URL, "event_types": ["contact.*", "deal.moved"], "fields": ["emails"]}
    made = await api.client.post(BASE, json=body, headers=owner)
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["secret"].startswith("whsec_")
    assert made.headers["Location"] == f"{BASE}/{sub['id']}"
    assert made.headers["ETag"] == '"1"'
    assert (sub["enabled"], sub["version"], sub["event_types"]) == (
        True,
        1,
        ["contact.*", "deal.moved"],
    )
    one = f"{BASE}/{sub['id']}"
    read = await api.client.get(one, headers=owner)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert sub["secret"] not in read.text
    listed = await api.client.get(BASE, headers=owner)
    assert [s["id"] for s in listed.json()["data"]] == [sub["id"]]
    assert sub["secret"] not in listed.text

    stale = await api.client.patch(one, json={"fields": None}, headers={**owner, "If-Match": '"7"'})
    assert_problem(stale, 412, "version_conflict")
    changed = await api.client.patch(
        one, json={"fields": None, "enabled": False}, headers={**owner, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["fields"], changed.json()["disabled_reason"]) == (None, "requested")
    assert changed.headers["ETag"] == '"2"'
    assert_problem(
        await api.client.post(f"{one}/test", headers=owner), 409, "webhook_subscription_disabled"
    )

    gone = await api.client.delete(one, headers={**owner, "If-Match": '"2"'})
    assert gone.status_code == 204
    assert_problem(await api.client.get(one, headers=owner), 404, "webhook_subscription_not_found")


async def test_only_owners_admins_and_admin_keys_manage_webhooks(api: Api) -> None:
    owner, workspace = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox, role="member")
    admin, _ = await join(api.client, owner, api.mailbox, role="admin")
    body = {"url": PUBLIC_URL, "event_types": ["*"]}
    assert_problem(await api.client.post(BASE, json=body, headers=member), 403, "role_forbidden")
    assert_problem(await api.client.get(BASE, headers=member), 403, "role_forbidden")
    keys = {}
    for scopes in (["contacts:write", "deals:write"], ["admin"]):
        made = await api.client.post(
            "/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=owner
        )
        keys[scopes[0]] = in_workspace(
            {"Authorization": f"Bearer {made.json()['secret']}"}, workspace
        )
    refused = await api.client.post(BASE, json=body, headers=keys["contacts:write"])
    assert_problem(refused, 403, "insufficient_scope")
    for allowed in (admin, keys["admin"]):
        assert (await api.client.post(BASE, json=body, headers=allowed)).status_code == 201


@pytest.mark.parametrize(
    ("body", "pointer", "code"),
    [
        (
            {"url": PUBLIC_URL, "event_types": ["contact.exploded"]},
            "/event_types/0",
            "unknown_event_type",
        ),
        ({"url": PUBLIC_URL, "event_types": ["nothing.*"]}, "/event_types/0", "unknown_event_type"),
        ({"url": PUBLIC_URL, "event_types": []}, "/event_types", "too_short"),
        ({"url": PUBLIC_URL}, "/event_types", "missing"),
        ({"url": "ftp://93.184.216.34/", "event_types": ["*"]}, "/url", "invalid_url"),
        ({"url": PUBLIC_URL, "event_types": ["*"], "secret": "x"}, "/secret", "extra_forbidden"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    api: Api, body: dict[str, object], pointer: str, code: str
) -> None:
    owner, _ = await owner_of(api.client)
    problem = assert_problem(
        await api.client.post(BASE, json=body, headers=owner), 422, "validation_failed"
    )
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(pointer, code)]


REFUSED = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10:8443/hook",
    "https://[::1]/hook",
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://172.31.255.254/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://localhost/hook",
    "https://inside.example/hook",
    "https://mixed.example/hook",
    "https://2130706433/hook",
    "http://93.184.216.34/hook",
]


async def test_internal_targets_are_refused_when_subscribing_and_when_changing(
    guarded: Api,
) -> None:
    owner, _ = await owner_of(guarded.client)
    for url in REFUSED:
        answer = await guarded.client.post(
            BASE, json={"url": url, "event_types": ["*"]}, headers=owner
        )
        problem = assert_problem(answer, 422, "webhook_url_refused")
        assert problem["errors"][0]["field"] == "/url", url
    made = await guarded.client.post(
        BASE, json={"url": PUBLIC_URL, "event_types": ["*"]}, headers=owner
    )
    assert made.status_code == 201
    moved = await guarded.client.patch(
        f"{BASE}/{made.json()['id']}", json={"url": "https://inside.example/x"}, headers=owner
    )
    assert_problem(moved, 422, "webhook_url_refused")


async def test_rotation_returns_a_new_secret_and_says_until_when_the_old_one_signs(
    api: Api,
) -> None:
    owner, _ = await owner_of(api.client)
    made = await api.client.post(
        BASE, json={"url": PUBLIC_URL, "event_types": ["*"]}, headers=owner
    )
    rotated = await api.client.post(f"{BASE}/{made.json()['id']}/rotate-secret", headers=owner)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"].startswith("whsec_")
    assert new["secret"] != made.json()["secret"]
    until = datetime.fromisoformat(new["previous_secret_expires_at"])
    assert until - datetime.fromisoformat(new["updated_at"]) == timedelta(hours=24)
    assert new["version"] == 2


async def test_ping_log_and_manual_retry(local: Api, receiver: Receiver) -> None:
    owner, _ = await owner_of(local.client)
    made = await local.client.post(
        BASE, json={"url": receiver.url, "event_types": ["*"]}, headers=owner
    )
    one = f"{BASE}/{made.json()['id']}"
    receiver.answer(Answer(500))
    ping = await local.client.post(f"{one}/test", headers=owner)
    assert ping.status_code == 202, ping.text
    assert (ping.json()["event_type"], ping.json()["status"]) == ("ping", "pending")
    await local.container.webhooks.deliver.execute()
    log = (await local.client.get(f"{one}/deliveries", headers=owner)).json()["data"]
    (tried,) = log
    assert (tried["id"], tried["attempts"], tried["status_code"], tried["error"]) == (
        ping.json()["id"],
        1,
        500,
        "HTTP 500",
    )
    assert tried["latency_ms"] is not None
    assert tried["next_attempt_at"] > tried["last_attempt_at"]

    retried = await local.client.post(f"{one}/deliveries/{tried['id']}/retry", headers=owner)
    assert retried.status_code == 202, retried.text
    await local.container.webhooks.deliver.execute()
    (done,) = (await local.client.get(f"{one}/deliveries", headers=owner)).json()["data"]
    assert (done["status"], done["attempts"], done["status_code"], done["next_attempt_at"]) == (
        "succeeded",
        2,
        200,
        None,
    )
    assert [r.headers["CRM-Event-Type"] for r in await receiver.wait_for(2)] == ["ping", "ping"]
    unknown = await local.client.post(f"{one}/deliveries/{made.json()['id']}/retry", headers=owner)
    assert_problem(unknown, 404, "webhook_delivery_not_found")


async def test_the_log_pages_newest_first(local: Api, receiver: Receiver) -> None:
    owner, _ = await owner_of(local.client)
    made = await local.client.post(
        BASE, json={"url": receiver.url, "event_types": ["*"]}, headers=owner
    )
    one = f"{BASE}/{made.json()['id']}"
    pings = [(await local.client.post(f"{one}/test", headers=owner)).json()["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await local.client.get(f"{one}/deliveries", params=params, headers=owner)).json()
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == pings[::-1]
