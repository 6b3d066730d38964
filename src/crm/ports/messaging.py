"""Sending WhatsApp messages and fetching inbound media (the Cloud API in production)."""

from __future__ import annotations

from typing import Protocol

from crm.domain.model.messaging import FetchedMedia, Sender, SentMessage


class MessagingProvider(Protocol):
    async def send_text(
        self, sender: Sender, to: str, text: str, reply_to: str | None = None
    ) -> SentMessage:
        """Send `text` from the sender's number to `to` (a WhatsApp id), quoting the message
        `reply_to` when given. Raises InvalidInput (checked before sending: at most 4,096
        characters), ChannelTokenRejected, ReplyWindowClosed, RecipientUnreachable,
        ServiceUnavailable (throttled, down or too slow: retry later) or PortError."""

    async def fetch_media(self, sender: Sender, media_id: str, max_bytes: int) -> FetchedMedia:
        """The bytes of media a customer sent to the sender's number. Raises MediaTooLarge
        beyond `max_bytes`, MediaCorrupted when they do not match Meta's SHA-256,
        ChannelTokenRejected, ServiceUnavailable or PortError (e.g. the media expired)."""
