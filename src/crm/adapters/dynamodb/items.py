"""The chat table's single-table layout, and items to and from domain objects.

| item | PK | SK |
|---|---|---|
| chat | `WS#<ws>#CHAT#<chat>` | `CHAT` |
| message | `WS#<ws>#CHAT#<chat>` | `MSG#<time>#<provider id>` |
| provider id (dedupe) | `WS#<ws>#MSGID#<provider id>` | `MSGID` |

A chat also carries GSI1PK `WS#<ws>` / GSI1SK `<time>#<chat>` (a workspace's chats by last
activity) and, when linked to a contact, GSI2PK `WS#<ws>#CONTACT#<contact>` / GSI2SK the same
as GSI1SK (a contact's chats).

Times are UTC ISO 8601 with microseconds and a four-digit year (fixed width), so sort keys
sort as strings in time order. GSI2 is sparse: only linked chats carry GSI2PK."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from crm.domain.model.chats import Chat, Direction, Message, MessageKind, MessageStatus

CHAT_SK = "CHAT"
ID_SK = "MSGID"
MESSAGES_FROM = "MSG#"
MESSAGES_TO = "MSG$"
"""Every message sort key lies between these two ('$' follows '#')."""
BY_ACTIVITY = "GSI1"
BY_CONTACT = "GSI2"

_to = TypeSerializer()
_from = TypeDeserializer()


def sort_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def read_time(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC)


def chat_pk(workspace_id: UUID, chat_id: UUID) -> str:
    return f"WS#{workspace_id}#CHAT#{chat_id}"


def workspace_pk(workspace_id: UUID) -> str:
    return f"WS#{workspace_id}"


def contact_pk(workspace_id: UUID, contact_id: UUID) -> str:
    return f"WS#{workspace_id}#CONTACT#{contact_id}"


def activity_sk(at: datetime, chat_id: UUID) -> str:
    return f"{sort_time(at)}#{chat_id}"


def message_sk(sent_at: datetime, provider_id: str) -> str:
    return f"{MESSAGES_FROM}{sort_time(sent_at)}#{provider_id}"


def provider_key(workspace_id: UUID, provider_id: str) -> dict[str, Any]:
    return typed({"PK": f"WS#{workspace_id}#MSGID#{provider_id}", "SK": ID_SK})


def chat_key(workspace_id: UUID, chat_id: UUID) -> dict[str, Any]:
    return typed({"PK": chat_pk(workspace_id, chat_id), "SK": CHAT_SK})


def typed(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as DynamoDB attribute values (None values left out)."""
    return {k: _to.serialize(v) for k, v in values.items() if v is not None}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from.deserialize(v) for k, v in item.items()}


def message_item(workspace_id: UUID, chat_id: UUID, message: Message) -> dict[str, Any]:
    return typed(
        {
            "PK": chat_pk(workspace_id, chat_id),
            "SK": message_sk(message.sent_at, message.provider_id),
            "provider_id": message.provider_id,
            "direction": message.direction.value,
            "kind": message.kind.value,
            "sent_at": sort_time(message.sent_at),
            "text": message.text,
            "media_key": message.media_key,
            "metadata": json.dumps(message.metadata, separators=(",", ":")),
            "status": message.status.value,
        }
    )


def to_message(item: dict[str, Any]) -> Message:
    values = plain(item)
    return Message(
        provider_id=values["provider_id"],
        direction=Direction(values["direction"]),
        kind=MessageKind(values["kind"]),
        sent_at=read_time(values["sent_at"]),
        text=values.get("text"),
        media_key=values.get("media_key"),
        metadata=json.loads(values["metadata"]),
        status=MessageStatus(values["status"]),
    )


def to_chat(item: dict[str, Any]) -> Chat:
    values = plain(item)
    contact, assignee = values.get("contact_id"), values.get("assignee_id")
    return Chat(
        workspace_id=UUID(values["workspace_id"]),
        id=UUID(values["chat_id"]),
        channel_id=values["channel_id"],
        customer_phone=values["customer_phone"],
        last_activity_at=read_time(values["last_activity_at"]),
        last_message_preview=values["preview"],
        unread_count=int(values["unread"]),
        message_count=int(values["messages"]),
        contact_id=None if contact is None else UUID(contact),
        assignee_id=None if assignee is None else UUID(assignee),
        contact_pinned=bool(values.get("contact_pinned", False)),
    )
