"""Chats through the API: the workspace's conversations, their messages, reading, assigning,
linking a contact and replying. Reading needs `read_contacts` (a chat is a contact's
activity), changing and replying `write_contacts`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput, NotFound, PortError
from crm.domain.model import chats as c
from crm.domain.model.blobs import DOWNLOAD_LINK_LIFETIME
from crm.domain.model.channels import ChannelNotFound
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import ChatMessageSent
from crm.domain.model.messaging import Sender
from crm.domain.model.permissions import Action, Principal
from crm.domain.use_cases.whatsapp_inbound import media_key, message_payload
from crm.ports.blobs import BlobStore
from crm.ports.channels import TokenCipher
from crm.ports.chats import ChatStore
from crm.ports.messaging import MessagingProvider
from crm.ports.repositories import ContactReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory

log = logging.getLogger("crm.chats")
MAX_REPLY = 4096
"""WhatsApp's longest text message."""


def chat_not_found(chat_id: UUID) -> c.ChatNotFound:
    return c.ChatNotFound(f"No chat {chat_id} here.")


class _Chats:
    def __init__(self, chats: ChatStore) -> None:
        self._chats = chats

    async def _chat(self, principal: Principal, chat_id: UUID) -> c.Chat:
        found = await self._chats.get(principal.workspace_id, chat_id)
        if found is None:
            raise chat_not_found(chat_id)
        return found


class ListChats(_Chats):
    """The workspace's chats, last activity first; `unread` keeps those with unread messages,
    `contact_id` those linked to the contact."""

    async def execute(
        self,
        principal: Principal,
        filters: c.ChatFilter,
        limit: int,
        cursor: str | None,
    ) -> c.ChatPage:
        principal.require(Action.READ_CONTACTS)
        after = None if cursor is None else c.ChatPosition.decode(cursor)
        return await self._chats.list_chats(principal.workspace_id, filters, limit, after)


class GetChat(_Chats):
    """One chat: its customer's number, contact, assignee, unread count and last message."""

    async def execute(self, principal: Principal, chat_id: UUID) -> c.Chat:
        principal.require(Action.READ_CONTACTS)
        return await self._chat(principal, chat_id)


class ListChatMessages(_Chats):
    """A chat's messages, newest first, both directions, with their delivery status."""

    async def execute(
        self, principal: Principal, chat_id: UUID, limit: int, cursor: str | None
    ) -> c.MessagePage:
        principal.require(Action.READ_CONTACTS)
        after = None if cursor is None else c.MessagePosition.decode(cursor)
        # Both reads at once (two round trips to DynamoDB, one wait); a chat that is not there
        # lists no messages, and its 404 wins.
        _, page = await asyncio.gather(
            self._chat(principal, chat_id),
            self._chats.list_messages(principal.workspace_id, chat_id, limit, after),
        )
        return page


class MarkChatRead(_Chats):
    """Every message of the chat read: its unread count becomes 0."""

    async def execute(self, principal: Principal, chat_id: UUID) -> c.Chat:
        principal.require(Action.WRITE_CONTACTS)
        await self._chats.mark_read(principal.workspace_id, chat_id)
        return await self._chat(principal, chat_id)


class AssignChat(_Chats):
    """Give the chat to a member of the workspace (null: to nobody). The assignee gets a push
    notification for each new message from the customer."""

    def __init__(self, chats: ChatStore, uow: UnitOfWorkFactory) -> None:
        super().__init__(chats)
        self._uow = uow

    async def execute(self, principal: Principal, chat_id: UUID, assignee: UUID | None) -> c.Chat:
        principal.require(Action.WRITE_CONTACTS)
        if assignee is not None:
            async with self._uow() as tx:
                member = await tx.members.get(principal.workspace_id, assignee)
            if member is None:
                raise InvalidInput(
                    f"{assignee} is not a member of this workspace.",
                    errors=(FieldError("/assignee_id", "not_a_member", "not a member here"),),
                )
        await self._chats.assign(principal.workspace_id, chat_id, assignee)
        return await self._chat(principal, chat_id)


class SetChatContact(_Chats):
    """Link the chat to a contact, or unlink it (null). Either way a person decided: later
    messages never link it to the contact with the customer's number instead."""

    def __init__(self, chats: ChatStore, contacts: ContactReader) -> None:
        super().__init__(chats)
        self._contacts = contacts

    async def execute(self, principal: Principal, chat_id: UUID, contact: UUID | None) -> c.Chat:
        principal.require(Action.WRITE_CONTACTS)
        if (
            contact is not None
            and await self._contacts.get(principal.workspace_id, contact) is None
        ):
            raise InvalidInput(
                f"No contact {contact} here.",
                errors=(FieldError("/contact_id", "contact_not_found", "no such contact here"),),
            )
        await self._chats.set_contact(principal.workspace_id, chat_id, contact)
        return await self._chat(principal, chat_id)


class MediaNotFound(NotFound):
    code = "media_not_found"
    title = "The message has no stored file"


@dataclass(frozen=True, slots=True)
class MediaLink:
    url: str
    expires_at: datetime
    content_type: str
    size: int


class GetChatMedia(_Chats):
    """A link to the file a customer sent (image, video, audio, document, sticker), valid for
    5 minutes. `404 media_not_found` when the message has none stored (yet)."""

    def __init__(self, chats: ChatStore, blobs: BlobStore, clock: Clock) -> None:
        super().__init__(chats)
        self._blobs, self._clock = blobs, clock

    async def execute(self, principal: Principal, chat_id: UUID, message_id: str) -> MediaLink:
        principal.require(Action.READ_CONTACTS)
        await self._chat(principal, chat_id)
        key = media_key(chat_id, message_id)
        info = await self._blobs.head(principal.workspace_id, key)
        if info is None:
            raise MediaNotFound(f"No file stored for message {message_id} of chat {chat_id}.")
        expires_at = self._clock.now() + DOWNLOAD_LINK_LIFETIME
        url = await self._blobs.download_url(principal.workspace_id, key, DOWNLOAD_LINK_LIFETIME)
        return MediaLink(url, expires_at, info.content_type, info.size)


class ChannelDisconnected(ChannelNotFound):
    """The chat's number is no longer connected to the workspace: there is no token to send
    with."""

    code = "channel_disconnected"
    title = "The chat's WhatsApp number is no longer connected"


class SendChatReply(_Chats):
    """Send a text message to the chat's customer through the WhatsApp Cloud API (from the
    chat's number, quoting `reply_to` when given). It is stored as `sent`; the statuses
    WhatsApp reports later (delivered, read, failed) update it. WhatsApp allows free-form
    replies within 24 hours of the customer's last message: later, `422
    whatsapp_reply_window_closed`."""

    def __init__(
        self,
        chats: ChatStore,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        cipher: TokenCipher,
        provider: MessagingProvider,
    ) -> None:
        super().__init__(chats)
        self._uow, self._clock, self._ids = uow, clock, ids
        self._cipher, self._provider = cipher, provider

    async def execute(
        self, principal: Principal, chat_id: UUID, text: str, reply_to: str | None = None
    ) -> c.Message:
        principal.require(Action.WRITE_CONTACTS)
        if not text.strip() or len(text) > MAX_REPLY:
            raise InvalidInput(
                "A reply is 1 to 4,096 characters.",
                errors=(FieldError("/text", "invalid_text", "1 to 4096 characters"),),
            )
        chat = await self._chat(principal, chat_id)
        async with self._uow() as tx:
            channel = await tx.channels.by_phone_number_id(chat.channel_id)
        if channel is None or channel.workspace_id != principal.workspace_id:
            raise ChannelDisconnected(
                f"WhatsApp number {chat.channel_id} is not connected here any more."
            )
        token = self._cipher.decrypt(channel.access_token_encrypted)
        sender = Sender(channel.phone_number_id, token)
        sent = await self._provider.send_text(
            sender, chat.customer_phone.removeprefix("+"), text, reply_to
        )
        now = self._clock.now()
        metadata: dict[str, object] = {"sent_by": str(principal.actor_id)}
        if reply_to is not None:
            metadata["replies_to"] = reply_to
        message = c.Message(
            sent.message_id, c.Direction.OUTBOUND, c.MessageKind.TEXT, now, text, None, metadata
        )
        ref = c.ChatRef(chat.channel_id, chat.customer_phone)
        try:
            await self._chats.append(principal.workspace_id, ref, message)
        except PortError:
            # Sent but not stored: WhatsApp has it; say so rather than invite a second send.
            log.exception("reply %s was sent but could not be stored", sent.message_id)
        async with self._uow() as tx:
            event = ChatMessageSent(
                id=self._ids.new_id(),
                workspace_id=principal.workspace_id,
                aggregate_id=chat.id,
                occurred_at=now,
                actor_id=principal.actor_id,
                payload=message_payload(chat.id, ref, chat.contact_id, chat.assignee_id, message),
            )
            await tx.outbox.add([event])
            await tx.commit()
        return message


class MoveChatsOfMergedContact:
    """contact.merged: the chats of the contact merged away now belong to the survivor (an
    EventHandler on the worker: at least once, and moving twice changes nothing)."""

    name = "chats.contact_merged"

    def __init__(self, chats: ChatStore) -> None:
        self._chats = chats

    async def handle(self, event: PublishedEvent) -> None:
        try:
            source = UUID(str(event.payload["source_id"]))
        except (KeyError, ValueError):
            return
        ws, after = event.workspace_id, None
        while True:
            page = await self._chats.list_chats(ws, c.ChatFilter(contact_id=source), 100, after)
            for chat in page.items:
                await self._chats.set_contact(ws, chat.id, event.aggregate_id)
            if page.next is None:
                return
            after = page.next


@dataclass(frozen=True, slots=True)
class ChatUseCases:
    list: ListChats
    get: GetChat
    messages: ListChatMessages
    mark_read: MarkChatRead
    assign: AssignChat
    set_contact: SetChatContact
    reply: SendChatReply
    media: GetChatMedia

    @classmethod
    def build(
        cls,
        chats: ChatStore,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        contacts: ContactReader,
        cipher: TokenCipher,
        provider: MessagingProvider,
        blobs: BlobStore,
    ) -> ChatUseCases:
        return cls(
            list=ListChats(chats),
            get=GetChat(chats),
            messages=ListChatMessages(chats),
            mark_read=MarkChatRead(chats),
            assign=AssignChat(chats, uow),
            set_contact=SetChatContact(chats, contacts),
            reply=SendChatReply(chats, uow, clock, ids, cipher, provider),
            media=GetChatMedia(chats, blobs, clock),
        )
