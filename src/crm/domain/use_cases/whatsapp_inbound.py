"""WhatsApp's webhook in two halves: the route verifies a notification and queues it (Meta
wants an answer within seconds and retries slow ones), the worker applies it to the chats.

Applying is idempotent, since the queue and Meta both deliver at least once: a message is
stored once per provider id (the chat store's conditional write), its event recorded once
(the processed-events table, keyed by the message), a contact created at most once (found by
its phone on the next try), and a status only moves forward."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from crm.domain.errors import (
    DomainError,
    InvalidInput,
    PermissionDenied,
    PortError,
    ServiceUnavailable,
    Unauthenticated,
)
from crm.domain.model import chats as c
from crm.domain.model import whatsapp as wa
from crm.domain.model.channels import WhatsAppChannel
from crm.domain.model.contact import Contact, ContactData
from crm.domain.model.events import ChatMessageReceived, ContactCreated
from crm.domain.model.messaging import Sender
from crm.domain.model.snapshot import contact_snapshot
from crm.domain.use_cases.send_batcher import SendBatcher
from crm.ports.blobs import BlobStore
from crm.ports.channels import TokenCipher
from crm.ports.chats import ChatStore
from crm.ports.message_queue import MessageQueue, OutgoingMessage
from crm.ports.messaging import MessagingProvider
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("crm.whatsapp")

QUEUE_MESSAGE_BYTES = 250_000
"""A queued part's most bytes (SQS takes 256 KiB a message)."""
STATUS_GRACE = timedelta(minutes=2)
"""A status of a message not stored yet is retried this long after it happened: a reply's
`sent` can arrive before the API stored the reply. Later, or for a message sent elsewhere, it
is dropped."""
_RECEIVED = "whatsapp.inbound"
_MESSAGE_IDS = UUID("0d2b8f5c-63a4-4c52-bb0e-7d9a1f1c4e10")


class InvalidSignature(Unauthenticated):
    code = "invalid_signature"
    title = "The X-Hub-Signature-256 header does not match the body"


class VerifyTokenMismatch(PermissionDenied):
    code = "verify_token_mismatch"
    title = "The verification request does not match this service's settings"


class WhatsAppNotConfigured(ServiceUnavailable):
    """Meta retries a 503: nothing sent before the secret is set is lost."""

    code = "whatsapp_not_configured"
    title = "WhatsApp is not configured"
    advice = "This deployment does not receive WhatsApp notifications yet; Meta retries later."


class StatusTooEarly(ServiceUnavailable):
    """A status for a message the store does not have yet: the consumer tries again."""


class ReceiveWhatsApp:
    """GET and POST /v1/webhooks/whatsapp: Meta's verification handshake, and notifications
    checked (signature, shape) and queued for the worker, unchanged when they fit a queue
    message (else one part per change); answered once the queue has it."""

    def __init__(
        self,
        queue: MessageQueue,
        ids: IdGenerator,
        app_secret: str | None,
        verify_token: str | None,
    ) -> None:
        self._ids, self.batcher = ids, SendBatcher(queue)
        self._secret, self._verify_token = app_secret, verify_token

    def handshake(self, mode: str | None, token: str | None, challenge: str | None) -> str:
        """The challenge to echo when Meta's subscribe request carries our verify token."""
        if self._verify_token is None:
            raise WhatsAppNotConfigured("CRM_WHATSAPP_VERIFY_TOKEN is not set.")
        if mode != "subscribe" or token is None or not challenge:
            raise VerifyTokenMismatch(
                "Expected hub.mode=subscribe, hub.verify_token and hub.challenge."
            )
        if not wa.same_secret(token, self._verify_token):
            raise VerifyTokenMismatch("hub.verify_token is not the configured verify token.")
        return challenge

    async def execute(self, body: bytes, signature: str | None) -> int:
        """Queue a verified notification; how many queue messages it took (0: nothing to
        apply, such as a template review)."""
        if self._secret is None:
            raise WhatsAppNotConfigured("CRM_WHATSAPP_APP_SECRET is not set.")
        if not wa.signature_matches(self._secret, body, signature):
            raise InvalidSignature(
                "Sign the raw body with the app secret: `sha256=` and the hex HMAC-SHA256."
            )
        notification = wa.read_notification(body)
        if notification.empty:
            return 0
        parts = wa.queue_parts(body, QUEUE_MESSAGE_BYTES)
        # With other requests' messages: one send for up to ten (SQS's batch).
        await self.batcher.send([OutgoingMessage(str(self._ids.new_id()), p) for p in parts])
        return len(parts)


class MediaArchive(Protocol):
    async def copy(
        self, channel: WhatsAppChannel, chat_id: UUID, message: wa.InboundMessage
    ) -> str | None:
        """Fetch the message's media from the provider into our storage: its key (None when
        there is nothing to copy)."""


def media_key(chat_id: UUID, provider_id: str) -> str:
    """Where a message's file is kept in the workspace's part of the blob store."""
    return f"chats/{chat_id}/{hashlib.sha256(provider_id.encode()).hexdigest()[:40]}"


class CopyInboundMedia:
    """The MediaArchive of the worker: a customer's file fetched from the Cloud API with the
    channel's token and kept in our blob store. A file that cannot be had for good (too
    large, corrupt, expired, the token refused) leaves the message without it (logged);
    a transient failure is raised, so the message is tried again."""

    def __init__(
        self,
        provider: MessagingProvider,
        blobs: BlobStore,
        cipher: TokenCipher,
        max_bytes: int,
    ) -> None:
        self._provider, self._blobs, self._cipher = provider, blobs, cipher
        self._max_bytes = max_bytes

    async def copy(
        self, channel: WhatsAppChannel, chat_id: UUID, message: wa.InboundMessage
    ) -> str | None:
        if message.media is None:
            return None
        try:
            token = self._cipher.decrypt(channel.access_token_encrypted)
            sender = Sender(channel.phone_number_id, token)
            fetched = await self._provider.fetch_media(sender, message.media.id, self._max_bytes)
        except ServiceUnavailable:
            raise
        except (DomainError, PortError) as e:
            log.warning("media of message %s not copied: %r", message.id, e)
            return None
        key = media_key(chat_id, message.id)
        await self._blobs.put(channel.workspace_id, key, fetched.data, fetched.mime_type)
        return key


@dataclass(frozen=True, slots=True)
class _Arrival:
    """An inbound message placed: its chat and the chat as stored before it."""

    channel: WhatsAppChannel
    ref: c.ChatRef
    chat: c.Chat | None
    message: wa.InboundMessage

    @property
    def workspace_id(self) -> UUID:
        return self.channel.workspace_id

    @property
    def chat_id(self) -> UUID:
        return self.ref.chat_id(self.channel.workspace_id)

    @property
    def may_match(self) -> bool:
        """No contact yet, and no person decided the chat has none."""
        return self.chat is None or (self.chat.contact_id is None and not self.chat.contact_pinned)


class ApplyWhatsApp:
    """The worker's half: each queued notification applied to the chat store and the CRM.

    A customer's message goes into its chat (made on the first message); the chat's contact
    is the one whose phones hold the customer's number, or one created for it when the
    channel says so; `chat.message_received` is recorded on the chat and its contact (the
    contact's timeline, webhooks, the stream, a push to the chat's assignee). Statuses of our
    replies move forward only. A number connected nowhere is logged and dropped."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        chats: ChatStore,
        clock: Clock,
        ids: IdGenerator,
        phones: PhoneNumbers,
        media: MediaArchive | None = None,
    ) -> None:
        self._uow, self._chats, self._clock, self._ids = uow, chats, clock, ids
        self._phones, self._media = phones, media

    async def handle(self, body: str) -> None:
        try:
            notification = wa.read_notification(body.encode())
        except wa.MalformedNotification as e:
            log.error("dropped a queued WhatsApp notification that does not read: %s", e)
            return
        for change in notification.changes:
            await self._apply(change)

    async def _apply(self, change: wa.NumberChange) -> None:
        async with self._uow() as tx:
            channel = await tx.channels.by_phone_number_id(change.phone_number_id)
        if channel is None:
            log.warning(
                "dropped %d message(s) and %d status(es) for phone number id %s: no workspace "
                "connects it",
                len(change.messages),
                len(change.statuses),
                change.phone_number_id,
            )
            return
        for message in change.messages:  # in order: a chat's preview follows the last
            await self._inbound(channel, message)
        await asyncio.gather(*(self._status(channel, s) for s in change.statuses))

    async def _inbound(self, channel: WhatsAppChannel, message: wa.InboundMessage) -> None:
        try:
            ref = c.ChatRef(channel.phone_number_id, "+" + message.sender)
        except InvalidInput:
            log.warning("dropped message %s: sender %r is no number", message.id, message.sender)
            return
        chat = await self._chats.get(channel.workspace_id, ref.chat_id(channel.workspace_id))
        arrival = _Arrival(channel, ref, chat, message)
        contact_id = await self._record(arrival)
        media_key = None
        if self._media is not None and message.media is not None:
            media_key = await self._media.copy(channel, arrival.chat_id, message)
        await self._chats.append(arrival.workspace_id, ref, chat_message(message, media_key))
        if contact_id is not None and arrival.may_match:
            await self._chats.set_contact(
                arrival.workspace_id, arrival.chat_id, contact_id, automatic=True
            )

    async def _record(self, arrival: _Arrival) -> UUID | None:
        """In one transaction: the message's contact (matched or made) and, the first time
        only, its event. The contact the chat should have, or None."""
        now = self._clock.now()
        event_id = uuid.uuid5(_MESSAGE_IDS, f"{arrival.workspace_id}:{arrival.message.id}")
        async with self._uow() as tx:
            first = await tx.processed_events.record(_RECEIVED, event_id, now)
            contact_id = None if arrival.chat is None else arrival.chat.contact_id
            if arrival.may_match:
                contact_id = await self._match(tx, arrival, create=first, now=now)
            if first:
                event = ChatMessageReceived(
                    id=event_id,
                    workspace_id=arrival.workspace_id,
                    aggregate_id=arrival.chat_id,
                    occurred_at=now,
                    actor_id=None,
                    payload=message_payload(
                        arrival.chat_id,
                        arrival.ref,
                        contact_id,
                        None if arrival.chat is None else arrival.chat.assignee_id,
                        chat_message(arrival.message, None),
                    ),
                )
                await tx.outbox.add([event])
            await tx.commit()
        return contact_id

    async def _match(
        self, tx: UnitOfWork, arrival: _Arrival, *, create: bool, now: datetime
    ) -> UUID | None:
        phone = arrival.ref.customer_phone
        found = await tx.batch.contacts.lock(arrival.workspace_id, (), {"phone": [phone]})
        if found:
            return min(found, key=lambda k: (k.created_at, k.id)).id  # the oldest: stable
        if not (create and arrival.channel.create_contacts):
            return None
        contact = Contact.create(
            self._ids.new_id(),
            arrival.workspace_id,
            ContactData.parse(
                new_contact_fields(phone, arrival.message.sender_name), self._phones.to_e164
            ),
            now,
        )
        await tx.contacts.add(contact)
        created = ContactCreated(
            id=self._ids.new_id(),
            workspace_id=contact.workspace_id,
            aggregate_id=contact.id,
            occurred_at=now,
            actor_id=None,
            payload=contact_snapshot(contact),
        )
        await tx.outbox.add([created])
        return contact.id

    async def _status(self, channel: WhatsAppChannel, update: wa.StatusUpdate) -> None:
        status = c.MessageStatus(update.status.value)
        outcome = await self._chats.apply_status(channel.workspace_id, update.message_id, status)
        if outcome is not c.StatusOutcome.UNKNOWN_MESSAGE:
            return
        if self._clock.now() - update.at < STATUS_GRACE:
            raise StatusTooEarly(f"No message {update.message_id} yet for its {status} status.")
        log.info("dropped the %s status of message %s: not one of ours", status, update.message_id)


def new_contact_fields(phone: str, profile_name: str | None) -> dict[str, Any]:
    """A contact for a number nobody has: the sender's WhatsApp profile name, split at its
    first space, and the number."""
    first, _, last = (profile_name or "").strip().partition(" ")
    fields: dict[str, Any] = {"phones": [phone]}
    if first:
        fields["first_name"] = first[:100]
    if last.strip():
        fields["last_name"] = last.strip()[:100]
    return fields


def chat_message(message: wa.InboundMessage, media_key: str | None) -> c.Message:
    return c.Message(
        provider_id=message.id,
        direction=c.Direction.INBOUND,
        kind=c.MessageKind(message.kind.value),
        sent_at=message.sent_at,
        text=message.text,
        media_key=media_key,
        metadata=wa.message_metadata(message),
        status=c.MessageStatus.DELIVERED,
    )


def message_payload(
    chat_id: UUID,
    ref: c.ChatRef,
    contact_id: UUID | None,
    assignee_id: UUID | None,
    message: c.Message,
) -> dict[str, Any]:
    """The payload of `chat.message_received` and `chat.message_sent`."""
    return {
        "chat_id": str(chat_id),
        "channel_id": ref.channel_id,
        "customer_phone": ref.customer_phone,
        "contact_id": None if contact_id is None else str(contact_id),
        "assignee_id": None if assignee_id is None else str(assignee_id),
        "message": {
            "provider_id": message.provider_id,
            "direction": message.direction.value,
            "kind": message.kind.value,
            "text": message.text,
            "sent_at": message.sent_at.isoformat(),
            "metadata": message.metadata,
        },
    }
