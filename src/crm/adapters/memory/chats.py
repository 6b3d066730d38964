"""The ChatStore port in this process's memory (unit tests, `crm dev`)."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from crm.domain.model.chats import (
    Appended,
    Chat,
    ChatFilter,
    ChatNotFound,
    ChatPage,
    ChatPosition,
    ChatRef,
    Direction,
    Message,
    MessagePage,
    MessagePosition,
    MessageStatus,
    StatusOutcome,
)


class InMemoryChatStore:
    """Each method runs without awaiting, so it is atomic within the event loop."""

    def __init__(self) -> None:
        self._chats: dict[tuple[UUID, UUID], Chat] = {}
        self._messages: dict[tuple[UUID, UUID], dict[str, Message]] = {}
        self._chat_of: dict[tuple[UUID, str], UUID] = {}

    async def append(self, workspace_id: UUID, chat: ChatRef, message: Message) -> Appended:
        chat_id = chat.chat_id(workspace_id)
        if (workspace_id, message.provider_id) in self._chat_of:
            return Appended(self._chat_of[workspace_id, message.provider_id], stored=False)
        key = (workspace_id, chat_id)
        current = self._chats.get(key) or Chat(
            workspace_id, chat_id, chat.channel_id, chat.customer_phone, message.sent_at, ""
        )
        unread = int(message.direction is Direction.INBOUND)
        updated = dataclasses.replace(
            current,
            unread_count=current.unread_count + unread,
            message_count=current.message_count + 1,
        )
        if key not in self._chats or message.sent_at > current.last_activity_at:
            updated = dataclasses.replace(
                updated, last_activity_at=message.sent_at, last_message_preview=message.preview()
            )
        self._chats[key] = updated
        self._messages.setdefault(key, {})[message.provider_id] = message
        self._chat_of[workspace_id, message.provider_id] = chat_id
        return Appended(chat_id, stored=True)

    async def apply_status(
        self, workspace_id: UUID, provider_id: str, status: MessageStatus
    ) -> StatusOutcome:
        chat_id = self._chat_of.get((workspace_id, provider_id))
        if chat_id is None:
            return StatusOutcome.UNKNOWN_MESSAGE
        messages = self._messages[workspace_id, chat_id]
        current = messages[provider_id]
        if current.status == status:
            return StatusOutcome.UNCHANGED
        if not status.can_follow(current.status):
            return StatusOutcome.REFUSED
        messages[provider_id] = current.with_status(status)
        return StatusOutcome.APPLIED

    async def get(self, workspace_id: UUID, chat_id: UUID) -> Chat | None:
        return self._chats.get((workspace_id, chat_id))

    async def list_chats(
        self, workspace_id: UUID, filters: ChatFilter, limit: int, after: ChatPosition | None
    ) -> ChatPage:
        rows = [
            c
            for (ws, _), c in self._chats.items()
            if ws == workspace_id
            and (not filters.unread or c.unread_count > 0)
            and (filters.contact_id is None or c.contact_id == filters.contact_id)
        ]
        rows.sort(key=lambda c: (c.last_activity_at, c.id), reverse=True)
        if after is not None:
            rows = [
                c for c in rows if (c.last_activity_at, c.id) < (after.last_activity_at, after.id)
            ]
        items = rows[:limit]
        more = len(rows) > limit
        return ChatPage(items, ChatPosition.of(items[-1]) if more else None)

    async def list_messages(
        self, workspace_id: UUID, chat_id: UUID, limit: int, after: MessagePosition | None
    ) -> MessagePage:
        rows = sorted(
            self._messages.get((workspace_id, chat_id), {}).values(),
            key=lambda m: (m.sent_at, m.provider_id),
            reverse=True,
        )
        if after is not None:
            rows = [
                m for m in rows if (m.sent_at, m.provider_id) < (after.sent_at, after.provider_id)
            ]
        items = rows[:limit]
        more = len(rows) > limit
        return MessagePage(items, MessagePosition.of(items[-1]) if more else None)

    async def mark_read(self, workspace_id: UUID, chat_id: UUID) -> None:
        self._change(workspace_id, chat_id, unread_count=0)

    async def set_contact(
        self,
        workspace_id: UUID,
        chat_id: UUID,
        contact_id: UUID | None,
        *,
        automatic: bool = False,
    ) -> bool:
        chat = self._chats.get((workspace_id, chat_id))
        if automatic and (chat is None or chat.contact_pinned or chat.contact_id):
            return False
        self._change(workspace_id, chat_id, contact_id=contact_id, contact_pinned=not automatic)
        return True

    async def assign(self, workspace_id: UUID, chat_id: UUID, assignee_id: UUID | None) -> None:
        self._change(workspace_id, chat_id, assignee_id=assignee_id)

    def _change(self, workspace_id: UUID, chat_id: UUID, **changes: object) -> None:
        chat = self._chats.get((workspace_id, chat_id))
        if chat is None:
            raise ChatNotFound(f"Chat {chat_id} not found.")
        self._chats[workspace_id, chat_id] = dataclasses.replace(chat, **changes)  # type: ignore[arg-type]
