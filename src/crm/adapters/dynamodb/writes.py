"""The writes of one append: the provider-id item, the message, the chat's counters (and,
for the chat's newest message, its last activity and preview), for one TransactWriteItems."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm.adapters.dynamodb import items as it
from crm.domain.model.chats import ChatRef, Direction, Message

_COUNTS = "#unread :unread, #messages :one"
_COUNT_NAMES = {"#unread": "unread", "#messages": "messages"}


def append_writes(
    table: str, workspace_id: UUID, chat: ChatRef, message: Message, *, newest: bool
) -> list[dict[str, Any]]:
    """In this order (cancellation reasons come by index): the provider-id item, the message,
    the chat. `newest` False leaves the chat's last activity and preview as they are."""
    chat_id = chat.chat_id(workspace_id)
    pk = it.chat_pk(workspace_id, chat_id)
    sk = it.message_sk(message.sent_at, message.provider_id)
    claim = {
        **it.provider_key(workspace_id, message.provider_id),
        **it.typed({"chat_pk": pk, "message_sk": sk}),
    }
    counts = {":unread": int(message.direction is Direction.INBOUND), ":one": 1}
    update: dict[str, Any] = {"TableName": table, "Key": it.chat_key(workspace_id, chat_id)}
    chat_write = (
        {**update, **_newest(workspace_id, chat, chat_id, message, counts)}
        if newest
        else {
            **update,
            "UpdateExpression": f"ADD {_COUNTS}",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": _COUNT_NAMES,
            "ExpressionAttributeValues": it.typed(counts),
        }
    )
    return [
        {"Put": _new(table, claim)},
        {"Put": _new(table, it.message_item(workspace_id, chat_id, message))},
        {"Update": chat_write},
    ]


def _new(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}


def _newest(
    workspace_id: UUID, chat: ChatRef, chat_id: UUID, message: Message, counts: dict[str, int]
) -> dict[str, Any]:
    """Creates the chat, or moves its activity forward; the condition fails for a message
    older than the chat's last activity."""
    activity = it.activity_sk(message.sent_at, chat_id)
    fields = {
        "workspace_id": str(workspace_id),
        "chat_id": str(chat_id),
        "channel_id": chat.channel_id,
        "customer_phone": chat.customer_phone,
        "last_activity_at": it.sort_time(message.sent_at),
        "preview": message.preview(),
        "GSI1PK": it.workspace_pk(workspace_id),
        "GSI1SK": activity,
        "GSI2SK": activity,
    }
    sets = ", ".join(f"#{name} = :{name}" for name in fields)
    return {
        "UpdateExpression": f"SET {sets} ADD {_COUNTS}",
        "ConditionExpression": "attribute_not_exists(PK) OR GSI1SK < :GSI1SK",
        "ExpressionAttributeNames": {**{f"#{n}": n for n in fields}, **_COUNT_NAMES},
        "ExpressionAttributeValues": it.typed(
            {**{f":{name}": value for name, value in fields.items()}, **counts}
        ),
    }
