"""Conversations on the production adapters: WhatsApp's notifications through the route onto
moto's SQS, applied by the worker's loops running in process into moto's DynamoDB, the
customer's file fetched from the Graph API stub into moto's S3, a reply sent through the
Graph API stub, its statuses following. Everything started by the harness on free ports."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest_asyncio

from crm.adapters.aws.client import AwsEndpoint
from crm.adapters.dynamodb.client import DynamoDbEndpoint
from crm.adapters.dynamodb.resources import create_chats_table
from crm.adapters.graph.messaging import GraphMessagingProvider
from crm.adapters.s3.resources import create_bucket
from crm.adapters.sqs.client import SqsEndpoint
from crm.adapters.sqs.resources import create_event_queues
from tests.support import whatsapp_payloads as wa
from tests.support.api import WHATSAPP_APP_SECRET, Api, running_api, settings_for_tests
from tests.support.graph_stub import GraphStub
from tests.support.moto import REGION, new_event_queues
from tests.support.people import owner_of

TOKEN = "EAAGm0PX4ZCpsBAKZC2E0moto0graph0token0ABCD"
PHOTO = b"\xff\xd8\xff\xe0" + b"jpeg bytes " * 100


@dataclass
class World:
    api: Api
    graph: GraphStub
    owner: dict[str, str]

    async def deliver(self, doc: dict[str, Any]) -> None:
        body = wa.encoded(doc)
        headers = {
            "X-Hub-Signature-256": wa.signed(WHATSAPP_APP_SECRET, body),
            "Content-Type": "application/json",
        }
        answer = await self.api.client.post("/v1/webhooks/whatsapp", content=body, headers=headers)
        assert answer.status_code == 200, answer.text

    async def get(self, path: str) -> Any:
        answer = await self.api.client.get(path, headers=self.owner)
        assert answer.status_code == 200, answer.text
        return answer.json()


async def until(check: Callable[[], Awaitable[bool]], within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.2)


@pytest_asyncio.fixture
async def world(database_url: str, redis_url: str, moto_url: str) -> AsyncIterator[World]:
    sqs = SqsEndpoint(REGION, moto_url)
    events = await new_event_queues(sqs)
    await create_event_queues(f"{events.name}-whatsapp", sqs, max_receives=3, visibility_timeout=30)
    table = f"{events.name}-chats"
    await create_chats_table(table, DynamoDbEndpoint(REGION, moto_url))
    bucket = f"crm-files-{uuid.uuid4().hex[:12]}"
    await create_bucket(bucket, AwsEndpoint(REGION, moto_url))
    with GraphStub() as graph:
        graph.add_number(wa.PHONE_NUMBER_ID, TOKEN)
        graph.add_media("MEDIA-1", PHOTO, "image/jpeg", phone_number_id=wa.PHONE_NUMBER_ID)
        settings = settings_for_tests(
            database_url,
            redis_url,
            worker_in_process=True,
            sqs_events_queue=events.name,
            sqs_wait_seconds=1,
            aws_endpoint_url=moto_url,
            dynamodb_chats_table=table,
            s3_bucket=bucket,
            whatsapp_graph_url=graph.url,
        )
        provider = GraphMessagingProvider(base_url=graph.url, timeout=5.0)
        try:
            async with running_api(settings, messaging=provider) as api:
                owner, _ = await owner_of(api.client)
                channel = {
                    "phone_number_id": wa.PHONE_NUMBER_ID,
                    "display_phone_number": "+15550783881",
                    "access_token": TOKEN,
                    "create_contacts": True,
                }
                made = await api.client.post("/v1/channels/whatsapp", json=channel, headers=owner)
                assert made.status_code == 201, made.text
                yield World(api, graph, owner)
        finally:
            await provider.close()


async def test_a_conversation_on_sqs_dynamodb_s3_and_the_graph_api(world: World) -> None:
    image = {"id": "MEDIA-1", "mime_type": "image/jpeg", "caption": "the damage"}
    doc = wa.envelope(wa.value(messages=[wa.text("Hello"), wa.message("image", image, n=2)]))
    for _ in range(2):  # Meta delivers again: applied once
        await world.deliver(doc)

    async def both_stored() -> bool:
        chats = (await world.get("/v1/chats"))["data"]
        return bool(chats) and chats[0]["message_count"] == 2 and chats[0]["contact_id"]

    await until(both_stored)
    (chat,) = (await world.get("/v1/chats"))["data"]
    contact = await world.get(f"/v1/contacts/{chat['contact_id']}")
    assert (contact["first_name"], contact["phones"]) == ("Sheena", ["+" + wa.CUSTOMER])
    messages = (await world.get(f"/v1/chats/{chat['id']}/messages"))["data"]
    photo = next(m for m in messages if m["kind"] == "image")
    assert photo["has_media"]
    link = await world.get(f"/v1/chats/{chat['id']}/messages/{photo['id']}/media")
    assert "X-Amz-Expires=300" in link["url"]  # a presigned GET on the bucket, 5 minutes
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(link["url"])
    assert (fetched.status_code, fetched.content) == (200, PHOTO)
    fetches = [r for r in world.graph.requests if r.method == "GET"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fetches)

    sent = await world.api.client.post(
        f"/v1/chats/{chat['id']}/messages", json={"text": "On its way"}, headers=world.owner
    )
    assert sent.status_code == 201, sent.text
    (post,) = [r for r in world.graph.requests if r.method == "POST"]
    assert post.path == f"/v21.0/{wa.PHONE_NUMBER_ID}/messages"
    assert json.loads(post.body)["text"]["body"] == "On its way"
    reply = sent.json()["id"]
    for state in ("read", "delivered"):
        await world.deliver(wa.envelope(wa.value(statuses=[wa.status(reply, state)])))

    async def read() -> bool:
        found = (await world.get(f"/v1/chats/{chat['id']}/messages"))["data"]
        status: str = next(m["status"] for m in found if m["id"] == reply)
        return status == "read"

    await until(read)
    await asyncio.sleep(2)  # the `delivered` after it has had its chance: still read
    assert await read()
    timeline = await world.get(f"/v1/contacts/{chat['contact_id']}/timeline")
    topics = [e["topic"] for e in timeline["data"]]
    assert topics.count("chat.message_received") == 2
    assert topics.count("chat.message_sent") == 1
    assert UUID(chat["id"])
