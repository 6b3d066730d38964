"""Conversations from messaging apps (WhatsApp first): chats and their messages, whose
delivery status only ever moves forward."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from crm.domain.errors import FieldError, InvalidCursor, InvalidInput, NotFound
from crm.domain.model.instant import in_utc
from crm.domain.pagination import cursor_time, pack_cursor, unpack_cursor

P = TypeVar("P")
PREVIEW_LENGTH = 100
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CHAT_IDS = UUID("5b0c6f0e-3f8a-4a43-9d55-0c6d1c1f2a71")
"""The namespace of chat ids: one chat per workspace, channel and customer phone."""


class ChatNotFound(NotFound):
    code = "chat_not_found"
    title = "Chat not found"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    LOCATION = "location"
    REACTION = "reaction"
    STICKER = "sticker"
    UNSUPPORTED = "unsupported"
    """A type this service does not read (shared contacts, interactive replies, new types)."""


class MessageStatus(enum.StrEnum):
    """sent → delivered → read; failed only from sent or delivered; read and failed are final."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    def moves_from(self) -> frozenset[MessageStatus]:
        """The statuses a message may be in for this one to replace it (forward only)."""
        return _MOVES_FROM[self]

    def can_follow(self, current: MessageStatus) -> bool:
        return current in _MOVES_FROM[self]


_MOVES_FROM: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.SENT: frozenset(),
    MessageStatus.DELIVERED: frozenset({MessageStatus.SENT}),
    MessageStatus.READ: frozenset({MessageStatus.SENT, MessageStatus.DELIVERED}),
    MessageStatus.FAILED: frozenset({MessageStatus.SENT, MessageStatus.DELIVERED}),
}


class StatusOutcome(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """The message already has this status (a repeated webhook)."""
    REFUSED = "refused"
    """The status would move the message back (or out of a final status): ignored."""
    UNKNOWN_MESSAGE = "unknown_message"


def utc_time(value: datetime, pointer: str) -> datetime:
    utc = in_utc(value)
    if utc is None:
        raise InvalidInput(
            f"{pointer} needs a time zone.",
            errors=(FieldError(pointer, "timezone_required", "give a UTC offset"),),
        )
    return utc


def check_phone(phone: str) -> str:
    if not _E164.fullmatch(phone):
        raise InvalidInput(
            f"{phone!r} is not a phone number in E.164 form (+ and 7 to 15 digits).",
            errors=(FieldError("/phone", "invalid_phone", "use E.164, e.g. +14155550123"),),
        )
    return phone


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A conversation: our channel (the provider's phone number id) and the customer's phone."""

    channel_id: str
    customer_phone: str

    def __post_init__(self) -> None:
        if not self.channel_id:
            raise InvalidInput("A chat needs its channel (phone number id).")
        check_phone(self.customer_phone)

    def chat_id(self, workspace_id: UUID) -> UUID:
        """Stable, so concurrent first messages of a chat agree on its id."""
        name = f"{workspace_id}:{self.channel_id}:{self.customer_phone}"
        return uuid.uuid5(_CHAT_IDS, name)


@dataclass(frozen=True, slots=True)
class Message:
    """`provider_id` is the provider's message id (WhatsApp's wamid); `media_key` names the
    stored file (an S3 key) and `metadata` holds provider details (JSON values)."""

    provider_id: str
    direction: Direction
    kind: MessageKind
    sent_at: datetime
    text: str | None = None
    media_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    status: MessageStatus = MessageStatus.SENT

    def __post_init__(self) -> None:
        if not self.provider_id:
            raise InvalidInput("A message needs the provider's message id.")
        object.__setattr__(self, "sent_at", utc_time(self.sent_at, "/sent_at"))

    def preview(self) -> str:
        """What a chat list shows of its last message."""
        if self.text:
            return self.text[:PREVIEW_LENGTH]
        return f"[{self.kind.value}]"

    def with_status(self, status: MessageStatus) -> Message:
        return Message(
            self.provider_id,
            self.direction,
            self.kind,
            self.sent_at,
            self.text,
            self.media_key,
            self.metadata,
            status,
        )


@dataclass(frozen=True, slots=True)
class Chat:
    workspace_id: UUID
    id: UUID
    channel_id: str
    customer_phone: str
    last_activity_at: datetime
    last_message_preview: str
    unread_count: int = 0
    message_count: int = 0
    contact_id: UUID | None = None
    assignee_id: UUID | None = None
    contact_pinned: bool = False
    """A person linked or unlinked the contact: matching phone numbers no longer change it."""


@dataclass(frozen=True, slots=True)
class Appended:
    """`stored` False: a message with this provider id was already stored; nothing changed."""

    chat_id: UUID
    stored: bool


@dataclass(frozen=True, slots=True)
class ChatFilter:
    unread: bool = False
    contact_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class ChatPosition:
    """Where a page of chats ends, last activity newest first: the last one's (time, id)."""

    last_activity_at: datetime
    id: UUID

    def encode(self) -> str:
        return pack_cursor("chat", self.last_activity_at.isoformat(), str(self.id))

    @classmethod
    def decode(cls, cursor: str) -> ChatPosition:
        return _decode(cursor, "chat", lambda at, id_: cls(at, UUID(id_)))

    @classmethod
    def of(cls, chat: Chat) -> ChatPosition:
        return cls(chat.last_activity_at, chat.id)


@dataclass(frozen=True, slots=True)
class MessagePosition:
    """Where a page of a chat's messages ends, newest first: the last one's (time, id)."""

    sent_at: datetime
    provider_id: str

    def encode(self) -> str:
        return pack_cursor("message", self.sent_at.isoformat(), self.provider_id)

    @classmethod
    def decode(cls, cursor: str) -> MessagePosition:
        def make(at: datetime, id_: Any) -> MessagePosition:
            if not isinstance(id_, str):
                raise TypeError(id_)
            return cls(at, id_)

        return _decode(cursor, "message", make)

    @classmethod
    def of(cls, message: Message) -> MessagePosition:
        return cls(message.sent_at, message.provider_id)


def _decode(cursor: str, kind: str, make: Callable[[datetime, Any], P]) -> P:
    """A position read from a cursor packed as (kind, time, id); another list's is refused."""

    def parse(parts: list[Any]) -> tuple[str, P]:
        name, at, id_ = parts
        return name, make(cursor_time(at), id_)

    name, position = unpack_cursor(cursor, parse)
    if name != kind:
        raise InvalidCursor("The cursor belongs to another list; start from the first page.")
    return position


@dataclass(frozen=True, slots=True)
class ChatPage:
    items: list[Chat]
    next: ChatPosition | None


@dataclass(frozen=True, slots=True)
class MessagePage:
    items: list[Message]
    next: MessagePosition | None
