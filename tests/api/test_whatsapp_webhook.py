"""POST|GET /v1/webhooks/whatsapp end to end in one process: Meta's handshake, signed
notifications queued by the route and applied by the worker's consumer (the in-process queue
and chat store; tests/integration/test_conversations_aws.py runs the same on moto's SQS and
DynamoDB)."""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

import pytest

from crm.domain.model.chats import ChatFilter, ChatRef, Direction, Message, MessageKind
from crm.domain.model.chats import MessageStatus as S
from crm.domain.use_cases.consume_events import ConsumerOptions
from crm.domain.use_cases.consume_queue import ConsumeQueue
from tests.support import whatsapp_payloads as wa
from tests.support.api import WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, Api

PATH = "/v1/webhooks/whatsapp"
CUSTOMER_E164 = "+" + wa.CUSTOMER


async def connect(api: Api, key: dict[str, str], **more: object) -> dict[str, Any]:
    body = {
        "phone_number_id": wa.PHONE_NUMBER_ID,
        "display_phone_number": "+1 555 078 3881",
        "access_token": "EAAGm0PX4ZCpsBAKZC2E0some0long0token0ABCD",
        **more,
    }
    answer = await api.client.post("/v1/channels/whatsapp", json=body, headers=key)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def deliver(api: Api, doc: dict[str, Any], secret: str = WHATSAPP_APP_SECRET) -> Any:
    body = wa.encoded(doc)
    headers = {"X-Hub-Signature-256": wa.signed(secret, body), "Content-Type": "application/json"}
    return await api.client.post(PATH, content=body, headers=headers)


async def drain(api: Api) -> int:
    """Run the worker's consumer until the inbound queue is empty: messages applied."""
    conversations = api.container.conversations
    options = ConsumerOptions(wait_seconds=0)
    consumer = ConsumeQueue("test", conversations.inbound, conversations.apply.handle, options)
    total = 0
    while received := await consumer.execute():
        total += received
    return total


def chat_id_of(workspace_id: UUID) -> UUID:
    return ChatRef(wa.PHONE_NUMBER_ID, CUSTOMER_E164).chat_id(workspace_id)


async def test_the_handshake_echoes_the_challenge_only_for_our_verify_token(api: Api) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN}
    ok = await api.client.get(PATH, params={**query, "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert ok.headers["content-type"].startswith("text/plain")
    for wrong in (
        {**query, "hub.verify_token": "not-ours", "hub.challenge": "1"},
        {**query, "hub.mode": "unsubscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        query,
    ):
        answer = await api.client.get(PATH, params=wrong)
        assert answer.status_code == 403, wrong
        assert answer.json()["code"] == "verify_token_mismatch"


async def test_a_text_message_becomes_a_chat_linked_to_the_contact_with_that_phone(
    api: Api,
) -> None:
    created = await api.workspace()
    key = {"Authorization": f"Bearer {created.secret}"}
    ws = created.workspace.id
    await connect(api, key)
    contact = await api.client.post(
        "/v1/contacts",
        json={"first_name": "Sheena", "phones": ["+1 650-555-1234"]},
        headers=key,
    )
    assert contact.status_code == 201
    answer = await deliver(api, wa.envelope(wa.value(messages=[wa.text("Hi there")])))
    assert (answer.status_code, answer.json()) == (200, {"queued": 1})
    assert api.container.conversations.chats is not None
    assert await api.container.conversations.chats.get(ws, chat_id_of(ws)) is None  # queued only
    assert await drain(api) == 1
    chat = await api.container.conversations.chats.get(ws, chat_id_of(ws))
    assert chat is not None
    assert (chat.customer_phone, chat.unread_count, chat.last_message_preview) == (
        CUSTOMER_E164,
        1,
        "Hi there",
    )
    assert chat.contact_id == UUID(contact.json()["id"])
    timeline = await api.client.get(f"/v1/contacts/{chat.contact_id}/timeline", headers=key)
    assert timeline.status_code == 200
    received = [e for e in timeline.json()["data"] if e["topic"] == "chat.message_received"]
    assert len(received) == 1
    assert received[0]["data"]["message"]["text"] == "Hi there"


async def test_every_kind_of_message_is_stored_with_its_details(api: Api) -> None:
    created = await api.workspace()
    ws = created.workspace.id
    await connect(api, {"Authorization": f"Bearer {created.secret}"})
    messages = [
        wa.text("hello", n=1),
        wa.message("image", {"id": "IMG1", "mime_type": "image/jpeg", "caption": "a cat"}, 2),
        wa.message("video", {"id": "VID1", "mime_type": "video/mp4"}, 3),
        wa.message("audio", {"id": "AUD1", "mime_type": "audio/ogg; codecs=opus"}, 4),
        wa.message(
            "document",
            {"id": "DOC1", "mime_type": "application/pdf", "filename": "quote.pdf"},
            5,
        ),
        wa.message(
            "location",
            {"latitude": 52.52, "longitude": 13.405, "name": "Office", "address": "Berlin"},
            6,
        ),
        wa.message("reaction", {"message_id": "wamid.OURS", "emoji": "\U0001f44d"}, 7),
        wa.message("contacts", {"x": 1}, 8),  # a type this service does not read
    ]
    assert (await deliver(api, wa.envelope(wa.value(messages=messages)))).status_code == 200
    await drain(api)
    page = await api.container.conversations.chats.list_messages(ws, chat_id_of(ws), 50, None)
    by_kind = {m.kind: m for m in page.items}
    assert set(by_kind) == {
        MessageKind.TEXT,
        MessageKind.IMAGE,
        MessageKind.VIDEO,
        MessageKind.AUDIO,
        MessageKind.DOCUMENT,
        MessageKind.LOCATION,
        MessageKind.REACTION,
        MessageKind.UNSUPPORTED,
    }
    assert by_kind[MessageKind.IMAGE].text == "a cat"
    assert by_kind[MessageKind.IMAGE].metadata["media"]["id"] == "IMG1"
    assert by_kind[MessageKind.DOCUMENT].metadata["media"]["filename"] == "quote.pdf"
    assert by_kind[MessageKind.LOCATION].metadata["location"]["latitude"] == 52.52
    assert by_kind[MessageKind.REACTION].text == "\U0001f44d"
    assert by_kind[MessageKind.REACTION].metadata["reacts_to"] == "wamid.OURS"
    assert by_kind[MessageKind.UNSUPPORTED].metadata["raw_type"] == "contacts"
    assert all(m.direction is Direction.INBOUND for m in page.items)


async def test_a_duplicate_delivery_is_applied_once(api: Api) -> None:
    created = await api.workspace()
    key = {"Authorization": f"Bearer {created.secret}"}
    ws = created.workspace.id
    await connect(api, key, create_contacts=True)
    doc = wa.envelope(wa.value(messages=[wa.text("once")]))
    for _ in range(3):
        assert (await deliver(api, doc)).status_code == 200
    assert await drain(api) == 3
    chat = await api.container.conversations.chats.get(ws, chat_id_of(ws))
    assert chat is not None
    assert (chat.message_count, chat.unread_count) == (1, 1)
    contacts = (await api.client.get("/v1/contacts", headers=key)).json()["data"]
    assert [c["phones"] for c in contacts] == [[CUSTOMER_E164]]  # created once
    assert (contacts[0]["first_name"], contacts[0]["last_name"]) == ("Sheena", "Nelson")
    audit = await api.client.get(
        "/v1/audit-events", params={"topic": "chat.message_received"}, headers=key
    )
    assert audit.status_code == 200
    assert len(audit.json()["data"]) == 1


async def test_a_status_never_moves_back(api: Api) -> None:
    created = await api.workspace()
    ws = created.workspace.id
    await connect(api, {"Authorization": f"Bearer {created.secret}"})
    store = api.container.conversations.chats
    sent = Message("wamid.REPLY1", Direction.OUTBOUND, MessageKind.TEXT, api.container.clock.now())
    await store.append(ws, ChatRef(wa.PHONE_NUMBER_ID, CUSTOMER_E164), sent)
    for state in ("delivered", "read", "delivered", "sent", "failed"):
        doc = wa.envelope(wa.value(statuses=[wa.status("wamid.REPLY1", state)]))
        assert (await deliver(api, doc)).status_code == 200
        await drain(api)
    (stored,) = (await store.list_messages(ws, chat_id_of(ws), 10, None)).items
    assert stored.status is S.READ


async def test_unknown_numbers_are_logged_and_dropped(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    created = await api.workspace()
    ws = created.workspace.id
    doc = wa.envelope(wa.value(messages=[wa.text()], phone_number_id="999000111"))
    with caplog.at_level(logging.WARNING, logger="crm.whatsapp"):
        assert (await deliver(api, doc)).status_code == 200
        assert await drain(api) == 1  # taken off the queue, not retried
    assert "999000111" in caplog.text
    assert (
        await api.container.conversations.chats.list_chats(ws, ChatFilter(), 10, None)
    ).items == []


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (None, "missing"),
        ("sha256=" + "0" * 64, "wrong"),
        ("sha1=abc", "another scheme"),
        ("made-with-another-secret", "another secret"),
    ],
)
async def test_a_bad_signature_is_401_and_queues_nothing(
    api: Api, signature: str | None, why: str
) -> None:
    body = wa.encoded(wa.envelope(wa.value(messages=[wa.text()])))
    if signature == "made-with-another-secret":
        signature = wa.signed("another-secret", body)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    answer = await api.client.post(PATH, content=body, headers=headers)
    assert answer.status_code == 401, why
    assert answer.json()["code"] == "invalid_signature"
    assert await drain(api) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        wa.encoded(wa.envelope({"metadata": {}, "messages": []})),
        wa.encoded(wa.envelope(wa.value(messages=[{**wa.text(), "timestamp": "yesterday"}]))),
        wa.encoded(wa.envelope(wa.value(messages=[{**wa.text(), "id": ""}]))),
        b'{"object": "whatsapp_business_account", "entry": [NaN]}',
    ],
)
async def test_a_malformed_notification_is_400_and_queues_nothing(api: Api, body: bytes) -> None:
    headers = {
        "X-Hub-Signature-256": wa.signed(WHATSAPP_APP_SECRET, body),
        "Content-Type": "application/json",
    }
    answer = await api.client.post(PATH, content=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_whatsapp_notification"
    assert await drain(api) == 0


async def test_notifications_without_messages_queue_nothing(api: Api) -> None:
    doc = wa.envelope({"event": "APPROVED"}, field="message_template_status_update")
    answer = await deliver(api, doc)
    assert (answer.status_code, answer.json()) == (200, {"queued": 0})
    assert await drain(api) == 0


def _string_paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _string_paths(v, (*path, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _string_paths(v, (*path, i))]
    return [path] if isinstance(doc, str) else []


def _with_nul(doc: Any, path: tuple[Any, ...]) -> Any:
    copy = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = target[path[-1]] + "\x00"
    return copy


async def test_a_nul_in_any_string_of_a_signed_notification_is_never_a_500(api: Api) -> None:
    """Ids, senders, times and the number with a NUL are refused (400); other texts keep
    what is readable. Whatever the case, the worker applies what was queued without error."""
    created = await api.workspace()
    await connect(api, {"Authorization": f"Bearer {created.secret}"})
    image = wa.message("image", {"id": "IMG1", "mime_type": "image/jpeg", "caption": "c"}, 2)
    doc = wa.envelope(wa.value(messages=[wa.text(), image], statuses=[wa.status("w", "read")]))
    paths = _string_paths(doc)
    assert len(paths) > 20
    answers = {}
    for path in paths:
        answer = await deliver(api, _with_nul(doc, path))
        answers[path] = answer.status_code
        assert answer.status_code in (200, 400), (path, answer.text)
    assert answers[("entry", 0, "changes", 0, "value", "messages", 0, "id")] == 400
    assert answers[("entry", 0, "changes", 0, "value", "messages", 0, "text", "body")] == 200
    await drain(api)
    chats = await api.container.conversations.chats.list_chats(
        created.workspace.id, ChatFilter(), 10, None
    )
    assert [c.customer_phone for c in chats.items] == [CUSTOMER_E164]


async def test_a_body_not_sent_as_json_is_415_and_queues_nothing(api: Api) -> None:
    body = wa.encoded(wa.envelope(wa.value(messages=[wa.text()])))
    signature = wa.signed(WHATSAPP_APP_SECRET, body)
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = {"X-Hub-Signature-256": signature}
        if content_type is not None:
            headers["Content-Type"] = content_type
        answer = await api.client.post(PATH, content=body, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (415, "unsupported_media_type")
    assert await drain(api) == 0
