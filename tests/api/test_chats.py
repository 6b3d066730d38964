"""/v1/chats end to end in one process: chats made by WhatsApp's webhook (the route, the
in-process queue, the worker's consumer), then listed, read, assigned (a push through the
real firebase-admin SDK to the FCM stub), linked and unlinked, replied to (the in-memory
messaging provider; tests/integration/test_whatsapp_graph.py replies through the Graph API
stub), and moved when contacts merge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import pytest_asyncio

from crm.adapters.memory.messaging import InMemoryMessagingProvider
from crm.domain.model.messaging import ReplyWindowClosed
from crm.domain.use_cases.consume_events import ConsumerOptions
from crm.domain.use_cases.consume_queue import ConsumeQueue
from tests.support import whatsapp_payloads as wa
from tests.support.api import WHATSAPP_APP_SECRET, Api, running_api, settings_for_tests
from tests.support.fcm_stub import FcmStub
from tests.support.people import PROJECT_ID, join, owner_of

CUSTOMER = "+" + wa.CUSTOMER


@dataclass
class World:
    api: Api
    fcm: FcmStub
    provider: InMemoryMessagingProvider
    owner: dict[str, str]
    workspace_id: str

    async def inbound(self, *messages: dict[str, Any], statuses: Any = None) -> None:
        """Meta delivers the messages; the worker applies them and the events they made."""
        doc = wa.envelope(wa.value(messages=list(messages) or None, statuses=statuses))
        body = wa.encoded(doc)
        sent = await self.api.client.post(
            "/v1/webhooks/whatsapp",
            content=body,
            headers={
                "X-Hub-Signature-256": wa.signed(WHATSAPP_APP_SECRET, body),
                "Content-Type": "application/json",
            },
        )
        assert sent.status_code == 200, sent.text
        c = self.api.container.conversations
        consumer = ConsumeQueue("test", c.inbound, c.apply.handle, ConsumerOptions(wait_seconds=0))
        while await consumer.execute():
            pass
        await self.events()

    async def events(self) -> None:
        events = self.api.container.events
        while await events.relay.execute():
            pass
        while await events.consumer.execute():
            pass

    async def call(self, method: str, path: str, status: int = 200, **body: Any) -> Any:
        answer = await self.api.client.request(method, path, json=body or None, headers=self.owner)
        assert answer.status_code == status, answer.text
        return answer.json()

    async def chat(self) -> dict[str, Any]:
        (found,) = (await self.call("GET", "/v1/chats"))["data"]
        return dict(found)


@pytest_asyncio.fixture
async def world(database_url: str, redis_url: str) -> AsyncIterator[World]:
    provider = InMemoryMessagingProvider()
    with FcmStub(PROJECT_ID) as fcm:
        settings = settings_for_tests(
            database_url, redis_url, fcm_enabled=True, fcm_url=fcm.url, sqs_wait_seconds=0
        )
        async with running_api(settings, messaging=provider) as api:
            owner, workspace_id = await owner_of(api.client)
            channel = {
                "phone_number_id": wa.PHONE_NUMBER_ID,
                "display_phone_number": "+15550783881",
                "access_token": "EAAGm0PX4ZCpsBAKZC2E0some0long0token0ABCD",
            }
            made = await api.client.post("/v1/channels/whatsapp", json=channel, headers=owner)
            assert made.status_code == 201, made.text
            yield World(api, fcm, provider, owner, workspace_id)
        assert fcm.violations == []


async def test_a_conversation_journey(world: World) -> None:
    contact = await world.call("POST", "/v1/contacts", 201, first_name="Sheena", phones=[CUSTOMER])
    await world.inbound(*(wa.text(f"message {n}", n=n) for n in range(3)))
    chat = await world.chat()
    assert (chat["customer_phone"], chat["contact_id"], chat["unread_count"]) == (
        CUSTOMER,
        contact["id"],
        3,
    )
    assert chat["channel_id"] == wa.PHONE_NUMBER_ID
    one = await world.call("GET", f"/v1/chats/{chat['id']}")
    assert one == chat
    unread = await world.call("GET", "/v1/chats?unread=true")
    assert [c["id"] for c in unread["data"]] == [chat["id"]]
    mine = await world.call("GET", f"/v1/chats?contact_id={contact['id']}")
    assert [c["id"] for c in mine["data"]] == [chat["id"]]
    assert (await world.call("GET", f"/v1/chats?contact_id={uuid4()}"))["data"] == []

    seen, cursor = [], None
    while True:
        query = "limit=2" + ("" if cursor is None else f"&cursor={cursor}")
        page = await world.call("GET", f"/v1/chats/{chat['id']}/messages?{query}")
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 == len(set(seen))

    read = await world.call("POST", f"/v1/chats/{chat['id']}/read")
    assert read["unread_count"] == 0
    assert (await world.call("GET", "/v1/chats?unread=true"))["data"] == []

    timeline = await world.call("GET", f"/v1/contacts/{contact['id']}/timeline")
    topics = [e["topic"] for e in timeline["data"]]
    assert topics.count("chat.message_received") == 3
    assert topics[-1] == "contact.created"  # newest first, one cursor for both


async def test_a_reply_is_sent_stored_and_its_status_follows_webhooks(world: World) -> None:
    await world.inbound(wa.text("Is it in stock?"))
    chat = await world.chat()
    reply = await world.call(
        "POST", f"/v1/chats/{chat['id']}/messages", 201, text="Yes, in blue.", reply_to="wamid.X"
    )
    assert (reply["direction"], reply["status"], reply["kind"]) == ("outbound", "sent", "text")
    (sent,) = world.provider.sent
    assert (sent.to, sent.text, sent.reply_to) == (wa.CUSTOMER, "Yes, in blue.", "wamid.X")
    assert sent.phone_number_id == wa.PHONE_NUMBER_ID
    after = await world.chat()
    assert (after["message_count"], after["last_message_preview"]) == (2, "Yes, in blue.")
    for state in ("delivered", "read", "delivered"):
        await world.inbound(statuses=[wa.status(reply["id"], state)])
    page = await world.call("GET", f"/v1/chats/{chat['id']}/messages")
    stored = next(m for m in page["data"] if m["id"] == reply["id"])
    assert stored["status"] == "read"
    assert stored["metadata"]["replies_to"] == "wamid.X"

    world.provider.fail_next(ReplyWindowClosed("more than 24 hours"))
    late = await world.api.client.post(
        f"/v1/chats/{chat['id']}/messages", json={"text": "hello?"}, headers=world.owner
    )
    assert (late.status_code, late.json()["code"]) == (422, "whatsapp_reply_window_closed")
    assert (await world.chat())["message_count"] == 2  # nothing stored


async def test_an_unlink_is_remembered_and_a_new_number_makes_no_contact_unless_asked(
    world: World,
) -> None:
    await world.inbound(wa.text("first"))
    chat = await world.chat()
    assert chat["contact_id"] is None  # no contact has the number; creating is off
    contact = await world.call("POST", "/v1/contacts", 201, first_name="Sheena", phones=[CUSTOMER])
    await world.inbound(wa.text("second", n=2))
    assert (await world.chat())["contact_id"] == contact["id"]  # matched now
    unlinked = await world.call("PUT", f"/v1/chats/{chat['id']}/contact", contact_id=None)
    assert (unlinked["contact_id"], unlinked["contact_pinned"]) == (None, True)
    await world.inbound(wa.text("third", n=3))
    assert (await world.chat())["contact_id"] is None  # not undone by the next message
    other = await world.call("POST", "/v1/contacts", 201, first_name="Other")
    linked = await world.call("PUT", f"/v1/chats/{chat['id']}/contact", contact_id=other["id"])
    assert linked["contact_id"] == other["id"]
    bad = await world.api.client.put(
        f"/v1/chats/{chat['id']}/contact", json={"contact_id": str(uuid4())}, headers=world.owner
    )
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (422, "contact_not_found")


async def test_assigning_a_chat_pushes_new_messages_to_the_assignee(world: World) -> None:
    await world.inbound(wa.text("hello"))
    chat = await world.chat()
    headers, bob = await join(world.api.client, world.owner, world.api.mailbox)
    token = f"fcm-{uuid4().hex}"
    device = {"token": token, "platform": "ios"}
    made = await world.api.client.post("/v1/devices", json=device, headers=headers)
    assert made.status_code == 201
    assigned = await world.call("PUT", f"/v1/chats/{chat['id']}/assignee", assignee_id=bob)
    assert assigned["assignee_id"] == bob
    await world.inbound(wa.text("are you there?", n=2))
    (pushed,) = world.fcm.to(token)
    assert pushed["notification"] == {"title": "Sheena Nelson", "body": "are you there?"}
    assert (pushed["data"]["kind"], pushed["data"]["chat_id"]) == ("chat_message", chat["id"])
    stranger = await world.api.client.put(
        f"/v1/chats/{chat['id']}/assignee", json={"assignee_id": str(uuid4())}, headers=world.owner
    )
    assert (stranger.status_code, stranger.json()["errors"][0]["code"]) == (422, "not_a_member")
    await world.call("PUT", f"/v1/chats/{chat['id']}/assignee", assignee_id=None)
    await world.inbound(wa.text("hello again", n=3))
    assert len(world.fcm.to(token)) == 1


async def test_merging_contacts_moves_their_chats(world: World) -> None:
    source = await world.call("POST", "/v1/contacts", 201, first_name="Sheena", phones=[CUSTOMER])
    survivor = await world.call("POST", "/v1/contacts", 201, first_name="Sheena N.")
    await world.inbound(wa.text("hi"))
    assert (await world.chat())["contact_id"] == source["id"]
    merged = await world.api.client.post(
        f"/v1/contacts/{survivor['id']}/merge",
        json={"source_id": source["id"]},
        headers=world.owner,
    )
    assert merged.status_code == 200, merged.text
    await world.events()
    assert (await world.chat())["contact_id"] == survivor["id"]
    listed = await world.call("GET", f"/v1/chats?contact_id={survivor['id']}")
    assert len(listed["data"]) == 1


async def test_another_workspace_never_reaches_a_chat(world: World) -> None:
    await world.inbound(wa.text("private"))
    chat_id = (await world.chat())["id"]
    theirs, _ = await owner_of(world.api.client, "Other")
    assert (await world.api.client.get("/v1/chats", headers=theirs)).json()["data"] == []
    for method, path, body in (
        ("GET", f"/v1/chats/{chat_id}", None),
        ("GET", f"/v1/chats/{chat_id}/messages", None),
        ("POST", f"/v1/chats/{chat_id}/read", None),
        ("PUT", f"/v1/chats/{chat_id}/contact", {"contact_id": None}),
        ("PUT", f"/v1/chats/{chat_id}/assignee", {"assignee_id": None}),
        ("POST", f"/v1/chats/{chat_id}/messages", {"text": "hi"}),
    ):
        answer = await world.api.client.request(method, path, json=body, headers=theirs)
        assert (answer.status_code, answer.json()["code"]) == (404, "chat_not_found"), path
    assert world.provider.sent == []
    assert UUID(chat_id)


async def test_a_customer_s_file_is_copied_and_linked_for_five_minutes(world: World) -> None:
    photo = b"\xff\xd8\xff\xe0 a small jpeg"
    world.provider.add_media("MEDIA-7", photo, "image/jpeg")
    image = {"id": "MEDIA-7", "mime_type": "image/jpeg", "caption": "the damage"}
    await world.inbound(wa.message("image", image, n=7))
    chat = await world.chat()
    (message,) = (await world.call("GET", f"/v1/chats/{chat['id']}/messages"))["data"]
    assert (message["kind"], message["has_media"], message["text"]) == (
        "image",
        True,
        "the damage",
    )
    link = await world.call("GET", f"/v1/chats/{chat['id']}/messages/{message['id']}/media")
    assert (link["content_type"], link["size"]) == ("image/jpeg", len(photo))
    issued = world.api.container.clock.now()
    expires = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=4) < expires - issued <= timedelta(minutes=5)
    fetched = await world.api.client.get(urlsplit(link["url"]).path)  # no API key: the link
    assert (fetched.status_code, fetched.content) == (200, photo)
    theirs, _ = await owner_of(world.api.client, "Other")
    media = f"/v1/chats/{chat['id']}/messages/{message['id']}/media"
    stranger = await world.api.client.get(media, headers=theirs)
    assert (stranger.status_code, stranger.json()["code"]) == (404, "chat_not_found")
    nothing = await world.api.client.get(
        f"/v1/chats/{chat['id']}/messages/wamid.none/media", headers=world.owner
    )
    assert (nothing.status_code, nothing.json()["code"]) == (404, "media_not_found")


async def test_media_that_cannot_be_had_leaves_the_message_without_it(world: World) -> None:
    image = {"id": "NEVER-UPLOADED", "mime_type": "image/jpeg"}
    await world.inbound(wa.message("image", image, n=8))
    chat = await world.chat()
    (message,) = (await world.call("GET", f"/v1/chats/{chat['id']}/messages"))["data"]
    assert (message["kind"], message["has_media"]) == ("image", False)
