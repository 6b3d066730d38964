"""WhatsApp messaging kept in this process (tests, and the zero-config development run)."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import deque
from dataclasses import dataclass, field

from crm.domain.errors import PortError
from crm.domain.model.messaging import (
    FetchedMedia,
    MediaCorrupted,
    MediaTooLarge,
    Sender,
    SentMessage,
    check_media_request,
    check_text,
    sha256_matches,
)

logger = logging.getLogger("crm.whatsapp")
_NOT_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True, slots=True)
class SentText:
    message_id: str
    phone_number_id: str
    to: str
    text: str
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class _StoredMedia:
    data: bytes = field(repr=False)
    mime_type: str
    sha256: str | None


class InMemoryMessagingProvider:
    """Records every text it accepts (`sent`); serves the media seeded with `add_media`."""

    def __init__(self, *, log: bool = False) -> None:
        self.sent: list[SentText] = []
        self._media: dict[str, _StoredMedia] = {}
        self._failures: deque[Exception] = deque()
        self._log = log

    async def send_text(
        self, sender: Sender, to: str, text: str, reply_to: str | None = None
    ) -> SentMessage:
        """Record the text and return a new `wamid.` id, unless a queued failure is due."""
        check_text(to, text, reply_to)
        self._fail_if_due()
        message_id = f"wamid.{uuid.uuid4().hex}"
        self.sent.append(SentText(message_id, sender.phone_number_id, to, text, reply_to))
        if self._log:
            # With no Cloud API configured, the log is where a developer reads the reply.
            logger.info(
                "WhatsApp %s from %s to %s: %s", message_id, sender.phone_number_id, to, text
            )
        return SentMessage(message_id, _NOT_DIGITS.sub("", to))

    async def fetch_media(self, sender: Sender, media_id: str, max_bytes: int) -> FetchedMedia:
        """The seeded media, checked like the Cloud API's (size cap, SHA-256)."""
        check_media_request(media_id, max_bytes)
        self._fail_if_due()
        stored = self._media.get(media_id)
        if stored is None:
            raise PortError(f"no WhatsApp media {media_id}")
        if len(stored.data) > max_bytes:
            raise MediaTooLarge(f"WhatsApp media {media_id} is over {max_bytes} bytes.")
        if stored.sha256 is not None and not sha256_matches(stored.sha256, stored.data):
            raise MediaCorrupted(f"WhatsApp media {media_id} does not match its SHA-256")
        digest = hashlib.sha256(stored.data).hexdigest()
        return FetchedMedia(stored.data, stored.mime_type, digest)

    def add_media(
        self, media_id: str, data: bytes, mime_type: str, *, sha256: str | None = None
    ) -> None:
        """Serve `data` as `media_id`; a `sha256` that does not match makes fetching fail."""
        self._media[media_id] = _StoredMedia(data, mime_type, sha256)

    def fail_next(self, error: Exception, times: int = 1) -> None:
        """Make the next `times` calls (send or fetch) raise `error` instead."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._failures.extend([error] * times)

    def _fail_if_due(self) -> None:
        if self._failures:
            raise self._failures.popleft()

    async def close(self) -> None:
        """Nothing to release."""
