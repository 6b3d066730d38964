"""Chats and their messages: request and response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm.domain.model.chats import Direction, MessageKind, MessageStatus

_CURSOR = "Pass as `cursor` for the next page; null at the end"


class Chat(BaseModel):
    id: UUID
    channel_id: str = Field(description="The WhatsApp phone number id the chat came through")
    customer_phone: str = Field(description="The customer's number, E.164")
    contact_id: UUID | None = Field(description="The linked contact; null when none")
    contact_pinned: bool = Field(
        description="A person linked or unlinked the contact: matching numbers no longer change it"
    )
    assignee_id: UUID | None = Field(description="The member answering this chat")
    unread_count: int = Field(ge=0)
    message_count: int = Field(ge=0)
    last_activity_at: datetime
    last_message_preview: str = Field(description="The newest message's first 100 characters")


class ChatPage(BaseModel):
    data: list[Chat]
    next_cursor: str | None = Field(description=_CURSOR)


class ChatMessage(BaseModel):
    id: str = Field(description="WhatsApp's message id (`wamid.…`)")
    direction: Direction
    kind: MessageKind
    status: MessageStatus = Field(
        description="Of replies: sent → delivered → read, or failed; never back. Customers' "
        "messages are `delivered`"
    )
    sent_at: datetime
    text: str | None = Field(description="A text's body, a media caption or a reaction's emoji")
    has_media: bool = Field(description="A file is stored with it (see the media link route)")
    metadata: dict[str, Any] = Field(
        description="WhatsApp's details: sender_name, replies_to, reacts_to, media (id, "
        "mime_type, filename), location (latitude, longitude, name, address), sent_by"
    )


class ChatMessagePage(BaseModel):
    data: list[ChatMessage]
    next_cursor: str | None = Field(description=_CURSOR)


class ChatAssignee(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"assignee_id": "0193e5d2-4b1e-7c3a-9f60-2d8e4a1b7c55"}]},
    )
    assignee_id: UUID | None = Field(description="A member of the workspace; null: nobody")


class ChatContact(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"contact_id": "0193e5d2-4b1e-7c3a-9f60-2d8e4a1b7c55"}]},
    )
    contact_id: UUID | None = Field(description="A contact of the workspace; null: unlink")


class ChatReply(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Yes, it comes in blue too."}]}
    )
    text: str = Field(min_length=1, max_length=4096, description="The message, plain text")
    reply_to: str | None = Field(
        None, min_length=1, max_length=512, description="A message id of the chat to quote"
    )


class ChatMediaLink(BaseModel):
    url: str = Field(description="GET it (no API key) until `expires_at`: 5 minutes")
    expires_at: datetime
    content_type: str
    size: int = Field(ge=0, description="Bytes")
