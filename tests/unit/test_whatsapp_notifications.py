"""Reading the WhatsApp Business Cloud API's webhook bodies (Meta's documented shapes) and
checking their signatures; malformed bodies are refused whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from crm.domain.model.whatsapp import (
    DeliveryStatus,
    MalformedNotification,
    MessageKind,
    queue_parts,
    read_notification,
    signature_matches,
)
from tests.support.whatsapp_payloads import (
    CUSTOMER,
    PHONE_NUMBER_ID,
    encoded,
    envelope,
    message,
    signed,
    status,
    text,
    value,
)

SECRET = "0123456789abcdef0123456789abcdef"


def one_message(raw: dict[str, Any]) -> Any:
    (change,) = read_notification(encoded(envelope(value([raw])))).changes
    assert change.phone_number_id == PHONE_NUMBER_ID
    (read,) = change.messages
    return read


def test_a_text_message_with_its_sender_and_time() -> None:
    read = one_message(text())
    assert read.kind is MessageKind.TEXT
    assert read.text == "Does it come in another color?"
    assert (read.sender, read.sender_name) == (CUSTOMER, "Sheena Nelson")
    assert read.sent_at == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert read.id.startswith("wamid.")


@pytest.mark.parametrize("kind", ["image", "video", "audio", "document", "sticker"])
def test_media_messages_keep_the_media_id_and_caption(kind: str) -> None:
    body = {
        "id": "1003383421387256",
        "mime_type": "image/jpeg",
        "sha256": "8Tz7QG0Cmt5bWT5M3H3p9cS6Fv5GQhnV0zqhr0hXK6w=",
        "caption": "Like this one?",
        "filename": "brochure.pdf",
    }
    read = one_message(message(kind, body))
    assert read.kind is MessageKind(kind)
    assert read.media is not None
    assert (read.media.id, read.media.mime_type, read.media.filename) == (
        "1003383421387256",
        "image/jpeg",
        "brochure.pdf",
    )
    assert read.text == "Like this one?"


def test_a_location_and_a_reaction() -> None:
    place = one_message(
        message(
            "location",
            {"latitude": 37.483307, "longitude": -122.148981, "name": "Philz", "address": "Menlo"},
        )
    )
    assert place.location is not None
    assert (place.location.latitude, place.location.longitude) == (37.483307, -122.148981)
    reaction = one_message(message("reaction", {"message_id": "wamid.ours", "emoji": "👍"}))
    assert (reaction.kind, reaction.reacts_to, reaction.text) == (
        MessageKind.REACTION,
        "wamid.ours",
        "👍",
    )
    removed = one_message(message("reaction", {"message_id": "wamid.ours", "emoji": ""}))
    assert removed.text is None


def test_a_reply_names_the_message_it_answers_and_unknown_types_are_kept() -> None:
    reply = one_message(text() | {"context": {"from": "15550783881", "id": "wamid.asked"}})
    assert reply.replies_to == "wamid.asked"
    odd = one_message(message("interactive", {"type": "button_reply"}))
    assert (odd.kind, odd.raw_type) == (MessageKind.UNSUPPORTED, "interactive")


def test_statuses_and_other_fields() -> None:
    doc = envelope(
        value(
            statuses=[
                status("wamid.a", "delivered"),
                status("wamid.b", "failed"),
                status("wamid.c", "played"),  # not tracked: skipped
            ]
        )
    )
    doc["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "x"}})
    (change,) = read_notification(encoded(doc)).changes
    assert [(s.message_id, s.status) for s in change.statuses] == [
        ("wamid.a", DeliveryStatus.DELIVERED),
        ("wamid.b", DeliveryStatus.FAILED),
    ]
    assert change.statuses[1].error is not None
    assert change.statuses[1].error.startswith("131049: ")
    assert change.statuses[0].recipient == CUSTOMER


def test_a_notification_of_other_fields_only_is_empty() -> None:
    doc = envelope({"event": "VERIFIED_ACCOUNT"}, field="account_update")
    assert read_notification(encoded(doc)).empty


def broken(path: str, replacement: Any) -> bytes:
    doc = envelope(value([text()]))
    target: Any = doc
    *parents, last = path.split("/")
    for key in parents:
        target = target[int(key) if key.isdigit() else key]
    if replacement is ...:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = replacement
    return encoded(doc)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": NaN}',
        b"[" * 100_000,
        broken("entry", {}),
        broken("entry/0/changes/0/value", "text"),
        broken("entry/0/changes/0/value/metadata", ...),
        broken("entry/0/changes/0/value/metadata/phone_number_id", 106540352242922),
        broken("entry/0/changes/0/value/messages/0/id", ...),
        broken("entry/0/changes/0/value/messages/0/from", ""),
        broken("entry/0/changes/0/value/messages/0/timestamp", "yesterday"),
        broken("entry/0/changes/0/value/messages/0/timestamp", "١٧٤٩٤١٦٣٨٣"),
        broken("entry/0/changes/0/value/messages/0/timestamp", "9" * 40),
        broken("entry/0/changes/0/value/messages/0/text", "hello"),
        broken("entry/0/changes/0/value/messages/0/id", "wamid.\x00"),
        broken("entry/0/changes/0/value/messages", {}),
    ],
)
def test_malformed_bodies_are_refused_whole(body: bytes) -> None:
    with pytest.raises(MalformedNotification):
        read_notification(body)


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(91, 0), (0, -181), (True, 0), ("1", 0), (1e400, 0)]
)
def test_a_location_out_of_range_is_malformed(latitude: Any, longitude: Any) -> None:
    raw = message("location", {"latitude": latitude, "longitude": longitude})
    body = json.dumps(envelope(value([raw]))).replace("Infinity", "1e400").encode()
    with pytest.raises(MalformedNotification):
        read_notification(body)


def test_the_signature_is_the_hmac_of_the_raw_body() -> None:
    body = encoded(envelope(value([text()])))
    header = signed(SECRET, body)
    assert signature_matches(SECRET, body, header)
    assert signature_matches(SECRET, body, header.upper().replace("SHA256=", "sha256="))
    assert not signature_matches(SECRET, body + b" ", header)
    assert not signature_matches("another secret", body, header)
    assert not signature_matches(SECRET, body, None)
    assert not signature_matches(SECRET, body, header.removeprefix("sha256="))
    assert not signature_matches(SECRET, body, "sha1=" + header.removeprefix("sha256="))


def test_a_long_text_is_kept_whole_up_to_the_limit() -> None:
    long = "x" * 4096
    doc = envelope(value(messages=[text(long)]))
    (change,) = read_notification(encoded(doc)).changes
    assert change.messages[0].text == long


def test_a_notification_too_big_for_one_queue_message_is_split_losing_nothing() -> None:
    messages = [text("y" * 900, n=n) for n in range(40)]
    statuses = [status(f"wamid.S{n}", "read") for n in range(30)]
    doc = envelope(value(messages=messages, statuses=statuses), value(messages=[text("z")]))
    body = encoded(doc)
    assert queue_parts(body, len(body)) == [body.decode()]  # fits: sent as it came
    parts = queue_parts(body, 8_000)
    assert len(parts) > 5
    assert all(len(part.encode()) <= 8_000 for part in parts)
    read = [c for part in parts for c in read_notification(part.encode()).changes]
    whole = read_notification(body).changes
    assert sorted(m.id for c in read for m in c.messages) == sorted(
        m.id for c in whole for m in c.messages
    )
    assert sorted(s.message_id for c in read for s in c.statuses) == sorted(
        s.message_id for c in whole for s in c.statuses
    )
    assert {c.phone_number_id for c in read} == {PHONE_NUMBER_ID}
