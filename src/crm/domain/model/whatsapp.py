"""What the WhatsApp Business Cloud API sends to our webhook, read into plain values.

A notification (`object: whatsapp_business_account`) holds entries, each with changes; a
`messages` change names the business number it concerns (`metadata.phone_number_id`) and
carries the messages customers sent (`messages`), their names (`contacts`) and the statuses of
messages we sent (`statuses`). Other change fields (template reviews, quality updates) are
kept out: nothing here applies them.

Reading is strict where a wrong guess would store the wrong thing (ids, senders, times, the
number) and liberal where Meta adds to its vocabulary: a message type or a status this code
does not know is kept as `unsupported` or skipped, never a refusal of the whole notification.
The signature check (`X-Hub-Signature-256`) is `signature_matches`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm.domain.errors import DomainError

_SECONDS = re.compile(r"[0-9]{1,11}")
MAX_TEXT = 65_536
"""Longer text is cut (WhatsApp allows 4,096 characters in a text message)."""


class MalformedNotification(DomainError):
    """The body is not a WhatsApp Business notification we can read (400: Meta does not
    retry a 4xx, and a retry would not read better)."""

    code = "malformed_whatsapp_notification"
    title = "Not a WhatsApp Business notification"


class MessageKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    REACTION = "reaction"
    UNSUPPORTED = "unsupported"
    """A type this service does not read (contacts, interactive replies, new types)."""


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


_MEDIA = frozenset(
    {
        MessageKind.IMAGE,
        MessageKind.VIDEO,
        MessageKind.AUDIO,
        MessageKind.DOCUMENT,
        MessageKind.STICKER,
    }
)


@dataclass(frozen=True, slots=True)
class Media:
    id: str
    """Meta's media id: downloaded through the Graph API with the channel's token."""
    mime_type: str | None
    sha256: str | None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None
    address: str | None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    id: str
    """The provider's message id (`wamid.…`): the key that makes a redelivery a no-op."""
    sender: str
    """The customer's WhatsApp id: their number, digits only."""
    sender_name: str | None
    sent_at: datetime
    kind: MessageKind
    text: str | None = None
    """A text message's body, or a media message's caption."""
    media: Media | None = None
    location: Location | None = None
    reacts_to: str | None = None
    """A reaction's message id; its emoji is `text` (None: the reaction was removed)."""
    replies_to: str | None = None
    raw_type: str | None = None
    """Meta's type of an unsupported message."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    message_id: str
    status: DeliveryStatus
    at: datetime
    recipient: str | None
    error: str | None = None
    """Why a message failed: Meta's code and title."""


@dataclass(frozen=True, slots=True)
class NumberChange:
    """What one change says about one business number."""

    phone_number_id: str
    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()


@dataclass(frozen=True, slots=True)
class Notification:
    changes: tuple[NumberChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(c.messages or c.statuses for c in self.changes)


def signature_matches(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether `X-Hub-Signature-256` (`sha256=<hex HMAC-SHA256 of the raw body>`) was made
    with the app secret; compared in constant time."""
    if header is None or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def same_secret(given: str, expected: str) -> bool:
    """Compared in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


def queue_parts(body: bytes, limit: int) -> list[str]:
    """A read notification as queue messages of at most `limit` bytes: the body itself when
    it fits (nearly always), else one notification per change, a change's messages and
    statuses halved until each part fits. Other change fields are left out."""
    if len(body) <= limit:
        return [body.decode()]
    doc = json.loads(body)
    parts: list[str] = []
    for entry in doc["entry"]:
        for change in entry["changes"]:
            if change.get("field") == "messages":
                parts += _split(entry.get("id"), change, limit)
    return parts


def _split(entry_id: Any, change: dict[str, Any], limit: int) -> list[str]:
    part = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": entry_id, "changes": [change]}]},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    value = change["value"]
    items = [(k, i) for k in ("messages", "statuses") for i in value.get(k, [])]
    if len(part.encode()) <= limit or len(items) < 2:
        return [part]  # a single message over the limit cannot be split: SQS refuses it
    halves = (items[: len(items) // 2], items[len(items) // 2 :])
    out = []
    for half in halves:
        smaller = {k: v for k, v in value.items() if k not in ("messages", "statuses")}
        for key, item in half:
            smaller.setdefault(key, []).append(item)
        out += _split(entry_id, {**change, "value": smaller}, limit)
    return out


def message_metadata(message: InboundMessage) -> dict[str, Any]:
    """What a stored message keeps of the provider's details (JSON values)."""
    found: dict[str, Any] = {
        "sender_name": message.sender_name,
        "replies_to": message.replies_to,
        "reacts_to": message.reacts_to,
        "raw_type": message.raw_type,
    }
    if message.media is not None:
        found["media"] = {
            "id": message.media.id,
            "mime_type": message.media.mime_type,
            "sha256": message.media.sha256,
            "filename": message.media.filename,
        }
    if message.location is not None:
        place = message.location
        found["location"] = {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "name": place.name,
            "address": place.address,
        }
    return {k: v for k, v in found.items() if v is not None}


def read_notification(body: bytes) -> Notification:
    """The notification in a webhook body; MalformedNotification when it is not one."""
    try:
        doc = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise MalformedNotification("The body is not JSON.") from e
    doc = _object(doc, "the body")
    if doc.get("object") != "whatsapp_business_account":
        raise MalformedNotification('"object" must be "whatsapp_business_account".')
    changes: list[NumberChange] = []
    for n, entry in enumerate(_list(doc.get("entry"), "entry")):
        for m, change in enumerate(_list(_object(entry, f"entry {n}").get("changes"), "changes")):
            change = _object(change, f"entry {n} change {m}")
            if change.get("field") == "messages":
                changes.append(_number_change(_object(change.get("value"), "value")))
    return Notification(tuple(changes))


def _number_change(value: Mapping[str, Any]) -> NumberChange:
    metadata = _object(value.get("metadata"), "metadata")
    phone_number_id = _text(metadata.get("phone_number_id"), "metadata.phone_number_id")
    names = {}
    for contact in _list(value.get("contacts", []), "contacts"):
        contact = _object(contact, "a contact")
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        if isinstance(contact.get("wa_id"), str) and isinstance(name, str):
            names[contact["wa_id"]] = name[:200]
    messages = tuple(
        _message(_object(m, "a message"), names)
        for m in _list(value.get("messages", []), "messages")
    )
    read = (_status(_object(s, "a status")) for s in _list(value.get("statuses", []), "statuses"))
    statuses = tuple(s for s in read if s is not None)
    return NumberChange(phone_number_id, messages, statuses)


def _message(raw: Mapping[str, Any], names: Mapping[str, str]) -> InboundMessage:
    message_id = _text(raw.get("id"), "message id")
    sender = _text(raw.get("from"), "message from")
    sent_at = _time(raw.get("timestamp"), "message timestamp")
    raw_type = _text(raw.get("type"), "message type")
    context = raw.get("context")
    replies_to = context.get("id") if isinstance(context, dict) else None
    common: dict[str, Any] = {
        "id": message_id,
        "sender": sender,
        "sender_name": names.get(sender),
        "sent_at": sent_at,
        "replies_to": replies_to if isinstance(replies_to, str) else None,
    }
    try:
        kind = MessageKind(raw_type)
    except ValueError:
        kind = MessageKind.UNSUPPORTED
    if kind is MessageKind.UNSUPPORTED:
        return InboundMessage(kind=kind, raw_type=raw_type[:64], **common)
    body = _object(raw.get(raw_type), f"the message's {raw_type}")
    if kind is MessageKind.TEXT:
        return InboundMessage(kind=kind, text=_body(body.get("body")), **common)
    if kind in _MEDIA:
        media = Media(
            id=_text(body.get("id"), f"{raw_type}.id"),
            mime_type=_optional(body.get("mime_type")),
            sha256=_optional(body.get("sha256")),
            filename=_optional(body.get("filename")),
        )
        caption = _optional(body.get("caption"))
        return InboundMessage(kind=kind, media=media, text=caption and _cut(caption), **common)
    if kind is MessageKind.LOCATION:
        place = Location(
            latitude=_coordinate(body.get("latitude"), 90, "location.latitude"),
            longitude=_coordinate(body.get("longitude"), 180, "location.longitude"),
            name=_optional(body.get("name")),
            address=_optional(body.get("address")),
        )
        return InboundMessage(kind=kind, location=place, **common)
    emoji = _optional(body.get("emoji")) or None  # "" removes a reaction
    target = _text(body.get("message_id"), "reaction.message_id")
    return InboundMessage(kind=kind, reacts_to=target, text=emoji, **common)


def _status(raw: Mapping[str, Any]) -> StatusUpdate | None:
    message_id = _text(raw.get("id"), "status id")
    at = _time(raw.get("timestamp"), "status timestamp")
    try:
        status = DeliveryStatus(str(raw.get("status")))
    except ValueError:
        return None  # a status this service does not track (`played`, `deleted`)
    error = None
    errors = raw.get("errors")
    if status is DeliveryStatus.FAILED and isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        error = f"{first.get('code', '?')}: {first.get('title', 'unknown error')}"[:500]
    recipient = raw.get("recipient_id")
    return StatusUpdate(
        message_id, status, at, recipient if isinstance(recipient, str) else None, error
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedNotification(f"{what} must be an object.")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedNotification(f"{what} must be an array.")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 512 or "\x00" in value:
        raise MalformedNotification(f"{what} must be a non-empty string (at most 512).")
    return value


def _optional(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "")[:1024]


def _body(value: Any) -> str:
    """A text message's body: any length up to MAX_TEXT kept (NULs dropped)."""
    if not isinstance(value, str):
        raise MalformedNotification("text.body must be a string.")
    return _cut(value)


def _cut(text: str) -> str:
    return text.replace("\x00", "")[:MAX_TEXT]


def _time(value: Any, what: str) -> datetime:
    """Meta's timestamps are Unix seconds, as a string."""
    if not isinstance(value, str) or _SECONDS.fullmatch(value) is None:
        raise MalformedNotification(f"{what} must be Unix seconds.")
    return datetime.fromtimestamp(int(value), UTC)


def _coordinate(value: Any, limit: int, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedNotification(f"{what} must be a number.")
    number = float(value)
    if not math.isfinite(number) or abs(number) > limit:
        raise MalformedNotification(f"{what} is out of range.")
    return number
