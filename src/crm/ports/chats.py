"""Chats and their messages from messaging apps (DynamoDB in production)."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from crm.domain.model.chats import (
    Appended,
    Chat,
    ChatFilter,
    ChatPage,
    ChatPosition,
    ChatRef,
    Message,
    MessagePage,
    MessagePosition,
    MessageStatus,
    StatusOutcome,
)


class ChatStore(Protocol):
    """Every method takes the workspace first and never reaches another workspace's chats.
    Vendor failures arrive as ServiceUnavailable (transient) or PortError."""

    async def append(self, workspace_id: UUID, chat: ChatRef, message: Message) -> Appended:
        """Store `message` in the chat (made on its first message), once per provider id: a
        duplicate changes nothing. An inbound message counts as unread; the newest message
        sets the chat's last activity and preview."""

    async def apply_status(
        self, workspace_id: UUID, provider_id: str, status: MessageStatus
    ) -> StatusOutcome:
        """Move a message's status forward; a move back is refused, an unknown id reported."""

    async def get(self, workspace_id: UUID, chat_id: UUID) -> Chat | None:
        """The chat, or None when the workspace has no such chat."""

    async def list_chats(
        self, workspace_id: UUID, filters: ChatFilter, limit: int, after: ChatPosition | None
    ) -> ChatPage:
        """The workspace's chats matching `filters`, last activity newest first."""

    async def list_messages(
        self, workspace_id: UUID, chat_id: UUID, limit: int, after: MessagePosition | None
    ) -> MessagePage:
        """A chat's messages, newest first (empty for a chat the workspace does not have)."""

    async def mark_read(self, workspace_id: UUID, chat_id: UUID) -> None:
        """Set the chat's unread count to 0 (ChatNotFound when there is no such chat)."""

    async def set_contact(
        self,
        workspace_id: UUID,
        chat_id: UUID,
        contact_id: UUID | None,
        *,
        automatic: bool = False,
    ) -> bool:
        """Link the chat to a contact, or unlink it with None (ChatNotFound), and remember
        that a person chose (`contact_pinned`). `automatic` (a phone number matched) links
        only a chat that has no contact and was never linked or unlinked by a person: False
        when it left the chat as it was."""

    async def assign(self, workspace_id: UUID, chat_id: UUID, assignee_id: UUID | None) -> None:
        """Assign the chat to a member, or unassign it with None (ChatNotFound)."""
