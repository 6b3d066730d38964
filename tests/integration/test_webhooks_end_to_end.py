"""An API write reaches a webhook receiver: outbox → relay → queue (in process, then moto's
SQS) → consumer → fan-out handler → delivery loop → POST, signed; a disabled subscription's
admins get their email through the same pipeline."""

from __future__ import annotations

import json
from typing import Any

from crm.adapters.sqs.client import SqsEndpoint
from tests.integration.test_webhook_delivery import readme_verify
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.moto import new_event_queues
from tests.support.people import join, owner_of
from tests.support.webhook_receiver import Answer, until, webhook_receiver

BASE = "/v1/webhook-subscriptions"


async def _journey(api: Api) -> None:
    verify = readme_verify()
    owner, workspace = await owner_of(api.client)
    with webhook_receiver() as receiver:
        made = await api.client.post(
            BASE,
            json={"url": receiver.url, "event_types": ["contact.*"], "fields": ["last_name"]},
            headers=owner,
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        contact = await api.client.post(
            "/v1/contacts", json={"first_name": "Ada", "last_name": "Byron"}, headers=owner
        )
        assert contact.status_code == 201, contact.text
        cid = contact.json()["id"]
        skipped = await api.client.patch(  # not a field the subscription wants
            f"/v1/contacts/{cid}", json={"job_title": "Countess"}, headers=owner
        )
        assert skipped.status_code == 200
        renamed = await api.client.patch(
            f"/v1/contacts/{cid}", json={"last_name": "Lovelace"}, headers=owner
        )
        assert renamed.status_code == 200
        created, updated = await receiver.wait_for(2, within=20)
        assert not await until(lambda: len(receiver.received) > 2, within=1.0)
    bodies: list[dict[str, Any]] = []
    for got in (created, updated):
        assert verify(got.body, got.headers["CRM-Signature"], secret)
        bodies.append(json.loads(got.body))
    types = sorted(b["type"] for b in bodies)
    assert types == ["contact.created", "contact.updated"]
    update = next(b for b in bodies if b["type"] == "contact.updated")
    assert update["workspace_id"] == workspace
    assert update["object"] == {"type": "contact", "id": cid}
    assert update["changes"] == {"last_name": {"old": "Byron", "new": "Lovelace"}}
    assert update["record"]["last_name"] == "Lovelace"
    log = await api.client.get(f"{BASE}/{made.json()['id']}/deliveries", headers=owner)
    assert [d["status"] for d in log.json()["data"]] == ["succeeded", "succeeded"]


async def test_an_api_write_reaches_the_receiver_through_the_in_process_queue(
    database_url: str, redis_url: str
) -> None:
    settings = settings_for_tests(
        database_url, redis_url, worker_in_process=True, webhook_allow_private=True
    )
    async with running_api(settings) as api:
        await _journey(api)


async def test_an_api_write_reaches_the_receiver_through_sqs(
    database_url: str, redis_url: str, moto_url: str, sqs_endpoint: SqsEndpoint
) -> None:
    queues = await new_event_queues(sqs_endpoint)
    settings = settings_for_tests(
        database_url,
        redis_url,
        worker_in_process=True,
        webhook_allow_private=True,
        sqs_events_queue=queues.name,
        aws_endpoint_url=moto_url,
        sqs_wait_seconds=1,
    )
    async with running_api(settings) as api:
        await _journey(api)


async def test_a_410_disables_the_subscription_and_emails_the_admins(
    database_url: str, redis_url: str
) -> None:
    settings = settings_for_tests(
        database_url, redis_url, worker_in_process=True, webhook_allow_private=True
    )
    async with running_api(settings) as api:
        owner, _ = await owner_of(api.client)
        await join(api.client, owner, api.mailbox, role="admin", email="ada@acme.example")
        await join(api.client, owner, api.mailbox, role="member", email="bob@acme.example")
        sent_before = len(api.mailbox.sent)
        with webhook_receiver() as receiver:
            receiver.answer(Answer(410))
            made = await api.client.post(
                BASE, json={"url": receiver.url, "event_types": ["*"]}, headers=owner
            )
            await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=owner)
            await receiver.wait_for(1, within=20)
        assert await until(lambda: len(api.mailbox.sent) >= sent_before + 2, within=20)
        mails = api.mailbox.sent[sent_before:]
        tos = [m.to for m in mails]
        assert len(tos) == 2  # the owner and the admin, not the member
        assert "ada@acme.example" in tos
        assert any(to.startswith("owner-") for to in tos)
        assert all(made.json()["id"] in m.text for m in mails)
        read = await api.client.get(f"{BASE}/{made.json()['id']}", headers=owner)
        assert (read.json()["enabled"], read.json()["disabled_reason"]) == (False, "gone")
