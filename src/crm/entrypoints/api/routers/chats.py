"""/v1/chats: WhatsApp conversations, their messages, and what people do with them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from crm.bootstrap import Container
from crm.domain.model.chats import Chat, ChatFilter, Message
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit
from crm.entrypoints.api.schemas import chats as s
from crm.entrypoints.api.views import json_response

BASE = "/v1/chats"
ONE = "/{chat_id}"


def chat_dict(c: Chat) -> dict[str, Any]:
    return {
        "id": c.id,
        "channel_id": c.channel_id,
        "customer_phone": c.customer_phone,
        "contact_id": c.contact_id,
        "contact_pinned": c.contact_pinned,
        "assignee_id": c.assignee_id,
        "unread_count": c.unread_count,
        "message_count": c.message_count,
        "last_activity_at": c.last_activity_at,
        "last_message_preview": c.last_message_preview,
    }


def message_dict(m: Message) -> dict[str, Any]:
    return {
        "id": m.provider_id,
        "direction": m.direction,
        "kind": m.kind,
        "status": m.status,
        "sent_at": m.sent_at,
        "text": m.text,
        "has_media": m.media_key is not None,
        "metadata": m.metadata,
    }


def _page(items: list[Any], next_cursor: str | None, item: Any) -> Response:
    return json_response({"data": [item(i) for i in items], "next_cursor": next_cursor})


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix=BASE, tags=["conversations"], route_class=LeanRoute)
    chats = c.chats

    @r.get(
        "",
        response_model=s.ChatPage,
        operation_id="listChats",
        summary="List chats",
        description=chats.list.__doc__,
        responses=problems(422),
    )
    async def list_chats(
        request: Request,
        limit: Limit = 50,
        cursor: Cursor = None,
        unread: Annotated[bool, Query(description="Only chats with unread messages")] = False,
        contact_id: Annotated[UUID | None, Query(description="Only this contact's chats")] = None,
    ) -> Response:
        filters = ChatFilter(unread=unread, contact_id=contact_id)
        page = await chats.list.execute(principal(request), filters, limit, cursor)
        after = None if page.next is None else page.next.encode()
        return _page(page.items, after, chat_dict)

    @r.get(
        ONE,
        response_model=s.Chat,
        operation_id="getChat",
        summary="Get a chat",
        description=chats.get.__doc__,
        responses=problems(404, 422),
    )
    async def get_chat(chat_id: UUID, request: Request) -> Response:
        return json_response(chat_dict(await chats.get.execute(principal(request), chat_id)))

    @r.get(
        ONE + "/messages",
        response_model=s.ChatMessagePage,
        operation_id="listChatMessages",
        summary="List a chat's messages",
        description=chats.messages.__doc__,
        responses=problems(404, 422),
    )
    async def list_chat_messages(
        chat_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await chats.messages.execute(principal(request), chat_id, limit, cursor)
        after = None if page.next is None else page.next.encode()
        return _page(page.items, after, message_dict)

    @r.post(
        ONE + "/messages",
        status_code=201,
        response_model=s.ChatMessage,
        operation_id="sendChatReply",
        summary="Reply in a chat",
        description=chats.reply.__doc__,
        responses=problems(400, 404, 409, 413, 415, 422),
    )
    async def send_chat_reply(chat_id: UUID, body: s.ChatReply, request: Request) -> Response:
        sent = await chats.reply.execute(principal(request), chat_id, body.text, body.reply_to)
        return json_response(message_dict(sent), 201)

    @r.get(
        ONE + "/messages/{message_id}/media",
        response_model=s.ChatMediaLink,
        operation_id="getChatMessageMedia",
        summary="Link to a message's file",
        description=chats.media.__doc__,
        responses=problems(404, 422),
    )
    async def get_chat_message_media(
        chat_id: UUID,
        message_id: Annotated[str, Path(min_length=1, max_length=512, pattern=r"^[!-~]+$")],
        request: Request,
    ) -> Response:
        link = await chats.media.execute(principal(request), chat_id, message_id)
        return json_response(
            {
                "url": link.url,
                "expires_at": link.expires_at,
                "content_type": link.content_type,
                "size": link.size,
            }
        )

    @r.post(
        ONE + "/read",
        response_model=s.Chat,
        operation_id="markChatRead",
        summary="Mark a chat read",
        description=chats.mark_read.__doc__,
        responses=problems(404, 422),
    )
    async def mark_chat_read(chat_id: UUID, request: Request) -> Response:
        chat = await chats.mark_read.execute(principal(request), chat_id)
        return json_response(chat_dict(chat))

    @r.put(
        ONE + "/assignee",
        response_model=s.Chat,
        operation_id="assignChat",
        summary="Assign a chat to a member",
        description=chats.assign.__doc__,
        responses=problems(400, 404, 413, 415, 422),
    )
    async def assign_chat(chat_id: UUID, body: s.ChatAssignee, request: Request) -> Response:
        chat = await chats.assign.execute(principal(request), chat_id, body.assignee_id)
        return json_response(chat_dict(chat))

    @r.put(
        ONE + "/contact",
        response_model=s.Chat,
        operation_id="setChatContact",
        summary="Link a chat to a contact, or unlink it",
        description=chats.set_contact.__doc__,
        responses=problems(400, 404, 413, 415, 422),
    )
    async def set_chat_contact(chat_id: UUID, body: s.ChatContact, request: Request) -> Response:
        chat = await chats.set_contact.execute(principal(request), chat_id, body.contact_id)
        return json_response(chat_dict(chat))

    return r
