"""The ChatStore port on DynamoDB (aioboto3): one table, one client per process opened at
start. The layout is in `items.py`."""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError

from crm.adapters.aws.client import HeldClient
from crm.adapters.aws.errors import client_error_code
from crm.adapters.dynamodb import items as it
from crm.adapters.dynamodb.client import DynamoDbEndpoint, dynamodb_errors
from crm.adapters.dynamodb.queries import Query, run_query
from crm.adapters.dynamodb.writes import append_writes
from crm.domain.errors import PortError, ServiceUnavailable
from crm.domain.model.chats import (
    Appended,
    Chat,
    ChatFilter,
    ChatNotFound,
    ChatPage,
    ChatPosition,
    ChatRef,
    Message,
    MessagePage,
    MessagePosition,
    MessageStatus,
    StatusOutcome,
)

CONFLICT_ATTEMPTS = 10
"""Transactions on one chat that collide (TransactionConflict) are tried this many times."""
_FAILED = "ConditionalCheckFailed"


class DynamoDbChatStore:
    """Appending writes the message, its provider-id item and the chat's counters in one
    transaction (the provider-id item's `attribute_not_exists` makes it idempotent)."""

    def __init__(self, table: str, endpoint: DynamoDbEndpoint) -> None:
        self._table = table
        self._client = HeldClient(
            "dynamodb", endpoint, "The chat store is not open (the container was not started)."
        )

    async def open(self) -> None:
        await self._client.open()

    async def close(self) -> None:
        await self._client.close()

    async def append(self, workspace_id: UUID, chat: ChatRef, message: Message) -> Appended:
        chat_id = chat.chat_id(workspace_id)
        newest, conflicts = True, 0
        while True:
            writes = append_writes(self._table, workspace_id, chat, message, newest=newest)
            reasons = await self._transact(writes)
            if reasons is None:
                return Appended(chat_id, stored=True)
            if reasons[0] == _FAILED:
                return Appended(chat_id, stored=False)
            if reasons[2] == _FAILED and newest:
                newest = False  # an older message: count it, leave activity and preview be
                continue
            if "TransactionConflict" not in reasons:
                raise PortError(f"DynamoDB append a message: cancelled ({', '.join(reasons)})")
            conflicts += 1
            if conflicts >= CONFLICT_ATTEMPTS:
                raise ServiceUnavailable("DynamoDB append a message: the chat stays contended")
            await asyncio.sleep(random.uniform(0, min(0.01 * 2**conflicts, 0.2)))  # noqa: S311

    async def apply_status(
        self, workspace_id: UUID, provider_id: str, status: MessageStatus
    ) -> StatusOutcome:
        with dynamodb_errors("find a message"):
            answer = await self._db().get_item(
                TableName=self._table,
                Key=it.provider_key(workspace_id, provider_id),
                ConsistentRead=True,
            )
        found = answer.get("Item")
        if found is None:
            return StatusOutcome.UNKNOWN_MESSAGE
        key = {"PK": found["chat_pk"], "SK": found["message_sk"]}
        allowed = sorted(status.moves_from())
        if allowed:
            values = {f":from{i}": s.value for i, s in enumerate(allowed)}
            condition = f"#status IN ({', '.join(values)})"
            update = {"UpdateExpression": "SET #status = :to", "ConditionExpression": condition}
            names = {"#status": "status"}
            if await self._update(key, update, names, {":to": status.value, **values}):
                return StatusOutcome.APPLIED
        with dynamodb_errors("read a message"):
            answer = await self._db().get_item(TableName=self._table, Key=key, ConsistentRead=True)
        current = it.to_message(answer["Item"]).status
        return StatusOutcome.UNCHANGED if current == status else StatusOutcome.REFUSED

    async def get(self, workspace_id: UUID, chat_id: UUID) -> Chat | None:
        with dynamodb_errors("read a chat"):
            answer = await self._db().get_item(
                TableName=self._table, Key=it.chat_key(workspace_id, chat_id), ConsistentRead=True
            )
        found = answer.get("Item")
        return None if found is None else it.to_chat(found)

    async def list_chats(
        self, workspace_id: UUID, filters: ChatFilter, limit: int, after: ChatPosition | None
    ) -> ChatPage:
        if filters.contact_id is None:
            index, pk, sk = it.BY_ACTIVITY, it.workspace_pk(workspace_id), "GSI1SK"
        else:
            index, pk, sk = it.BY_CONTACT, it.contact_pk(workspace_id, filters.contact_id), "GSI2SK"
        query = Query(self._table, f"{index}PK", pk, index=index)
        if after is not None:
            query = query.below(sk, it.activity_sk(after.last_activity_at, after.id))
        if filters.unread:
            query = query.where("#unread > :zero", {"#unread": "unread"}, {":zero": 0})
        with dynamodb_errors("list chats"):
            found = [it.to_chat(i) for i in await run_query(self._db(), query, limit + 1)]
        items = found[:limit]
        return ChatPage(items, ChatPosition.of(items[-1]) if len(found) > limit else None)

    async def list_messages(
        self, workspace_id: UUID, chat_id: UUID, limit: int, after: MessagePosition | None
    ) -> MessagePage:
        upper = it.MESSAGES_TO if after is None else it.message_sk(after.sent_at, after.provider_id)
        query = Query(self._table, "PK", it.chat_pk(workspace_id, chat_id), consistent=True)
        query = query.between("SK", it.MESSAGES_FROM, upper)  # inclusive: drop the cursor's own
        with dynamodb_errors("list messages"):
            rows = await run_query(self._db(), query, limit + 2)
        found = [it.to_message(i) for i in rows if i["SK"]["S"] != upper][: limit + 1]
        items = found[:limit]
        return MessagePage(items, MessagePosition.of(items[-1]) if len(found) > limit else None)

    async def mark_read(self, workspace_id: UUID, chat_id: UUID) -> None:
        names, values = {"#unread": "unread"}, {":zero": 0}
        await self._change(workspace_id, chat_id, "SET #unread = :zero", names, values)

    async def set_contact(
        self,
        workspace_id: UUID,
        chat_id: UUID,
        contact_id: UUID | None,
        *,
        automatic: bool = False,
    ) -> bool:
        names = {"#contact": "contact_id", "#gsi": "GSI2PK", "#pinned": "contact_pinned"}
        values: dict[str, Any] = {":pinned": not automatic}
        if contact_id is None:
            expression = "SET #pinned = :pinned REMOVE #contact, #gsi"
        else:
            values[":value"] = str(contact_id)
            values[":gsi"] = it.contact_pk(workspace_id, contact_id)
            expression = "SET #contact = :value, #gsi = :gsi, #pinned = :pinned"
        if not automatic:
            await self._change(workspace_id, chat_id, expression, names, values)
            return True
        values[":true"] = True
        condition = (
            "attribute_exists(PK) AND attribute_not_exists(#contact)"
            " AND (attribute_not_exists(#pinned) OR #pinned <> :true)"
        )
        update = {"UpdateExpression": expression, "ConditionExpression": condition}
        return await self._update(it.chat_key(workspace_id, chat_id), update, names, values)

    async def assign(self, workspace_id: UUID, chat_id: UUID, assignee_id: UUID | None) -> None:
        names = {"#assignee": "assignee_id"}
        if assignee_id is None:
            await self._change(workspace_id, chat_id, "REMOVE #assignee", names, {})
            return
        values = {":value": str(assignee_id)}
        await self._change(workspace_id, chat_id, "SET #assignee = :value", names, values)

    async def _change(
        self,
        workspace_id: UUID,
        chat_id: UUID,
        expression: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> None:
        update = {"UpdateExpression": expression, "ConditionExpression": "attribute_exists(PK)"}
        key = it.chat_key(workspace_id, chat_id)
        if not await self._update(key, update, names, values):
            raise ChatNotFound(f"Chat {chat_id} not found.")

    async def _update(
        self,
        key: dict[str, Any],
        update: dict[str, str],
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        """False when the condition failed."""
        extra = {"ExpressionAttributeValues": it.typed(values)} if values else {}
        with dynamodb_errors("update an item"):
            try:
                await self._db().update_item(
                    TableName=self._table,
                    Key=key,
                    ExpressionAttributeNames=names,
                    **update,
                    **extra,
                )
            except ClientError as e:
                if client_error_code(e) != "ConditionalCheckFailedException":
                    raise
                return False
        return True

    async def _transact(self, writes: list[dict[str, Any]]) -> list[str] | None:
        """None when written; else each write's cancellation reason code ("None": fine)."""
        with dynamodb_errors("append a message"):
            try:
                await self._db().transact_write_items(TransactItems=writes)
            except ClientError as e:
                if client_error_code(e) != "TransactionCanceledException":
                    raise
                reasons = e.response.get("CancellationReasons") or []
                codes = [str(r.get("Code", "None")) for r in reasons]
                return codes + ["None"] * (len(writes) - len(codes))
        return None

    def _db(self) -> Any:
        return self._client.get()
