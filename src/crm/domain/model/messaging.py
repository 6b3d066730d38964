"""Sending through a connected WhatsApp number, and fetching the media customers sent to it.

A `Sender` is a business number as the Cloud API knows it: its phone number id and the
channel's access token, decrypted for the call and never shown (not in `repr` either). The
errors name what a caller can act on: a token Meta no longer accepts (connect the channel
again), a customer outside the 24-hour window (only a template may reach them), a number that
cannot receive, media over the size this service keeps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field

from crm.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    PortError,
    RuleViolation,
    ServiceUnavailable,
)

MAX_TEXT = 4096
"""Characters in one WhatsApp text message (the Cloud API refuses longer bodies)."""

_PHONE_NUMBER_ID = re.compile(r"[0-9]{1,32}")
_RECIPIENT = re.compile(r"\+?[0-9]{5,20}")
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class ChannelTokenRejected(Conflict):
    """Meta refused the channel's access token (expired, revoked, or without the WhatsApp
    messaging permission): nothing can be sent or fetched until the channel gets a new one."""

    code = "whatsapp_token_rejected"
    title = "WhatsApp rejected the channel's access token"


class ReplyWindowClosed(RuleViolation):
    """More than 24 hours passed since the customer's last message: only an approved
    template may reach them now (Meta's error 131047)."""

    code = "whatsapp_reply_window_closed"
    title = "The 24-hour reply window with this customer is closed"


class RecipientUnreachable(DomainError):
    """WhatsApp cannot deliver to this number (not on WhatsApp, or not allowed to receive
    from this business); sending again will not help."""

    code = "whatsapp_recipient_unreachable"
    title = "The recipient cannot receive WhatsApp messages"


class MediaTooLarge(RuleViolation):
    code = "whatsapp_media_too_large"
    title = "The media is larger than this service keeps"


class WhatsAppUnavailable(ServiceUnavailable):
    """The Cloud API is unreachable, too slow, failing or throttling us: retry later."""

    code = "whatsapp_unavailable"
    title = "WhatsApp's Cloud API is unavailable"
    advice = (
        "WhatsApp's Cloud API could not be reached, did not answer in time or is throttling; "
        "retry shortly."
    )


class MediaCorrupted(PortError):
    """The downloaded bytes do not match the SHA-256 Meta gave for them."""

    code = "whatsapp_media_corrupted"
    title = "The media did not match its checksum"
    advice = "The media could not be verified; it was not kept."


@dataclass(frozen=True, slots=True)
class Sender:
    """A business number: Meta's phone number id and the channel's decrypted access token."""

    phone_number_id: str
    access_token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not _PHONE_NUMBER_ID.fullmatch(self.phone_number_id):
            raise InvalidInput("A phone number id is 1 to 32 digits.")
        if not _TOKEN.fullmatch(self.access_token):
            raise InvalidInput("The channel has no usable access token.")


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    """The provider's id (`wamid.…`): delivery statuses name the message by it."""
    wa_id: str | None = None
    """The recipient's WhatsApp id, when the provider returned it."""


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    data: bytes = field(repr=False)
    mime_type: str
    sha256: str
    """Hex SHA-256 of `data` (checked against Meta's when Meta gave one)."""
    filename: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def check_text(to: str, text: str, reply_to: str | None = None) -> None:
    """Raise InvalidInput unless `to` is a WhatsApp number, `text` a sendable body and
    `reply_to` (when given) a message id."""
    errors: list[FieldError] = []
    if reply_to is not None and not (0 < len(reply_to) <= 512 and reply_to.isprintable()):
        errors.append(FieldError("/reply_to", "invalid_message_id", "a WhatsApp message id"))
    if not _RECIPIENT.fullmatch(to):
        errors.append(FieldError("/to", "invalid_recipient", "a WhatsApp id: digits"))
    if not text.strip():
        errors.append(FieldError("/text", "required", "the message has no text"))
    elif len(text) > MAX_TEXT:
        errors.append(FieldError("/text", "too_long", f"at most {MAX_TEXT} characters"))
    if errors:
        raise InvalidInput("The WhatsApp message cannot be sent.", errors=tuple(errors))


def check_media_request(media_id: str, max_bytes: int) -> None:
    """Raise InvalidInput unless `media_id` looks like Meta's (it goes into a URL path)."""
    if not _MEDIA_ID.fullmatch(media_id):
        raise InvalidInput("A WhatsApp media id is 1 to 128 letters, digits, - or _.")
    if max_bytes < 1:
        raise ValueError("max_bytes must be at least 1")


def sha256_matches(expected: str, data: bytes) -> bool:
    """Whether `expected` is the SHA-256 of `data`. Meta writes it in hex (the media endpoint)
    or base64 (webhooks); a value in neither form matches nothing."""
    digest = hashlib.sha256(data).digest()
    value = expected.strip()
    if _HEX_SHA256.fullmatch(value):
        return hmac.compare_digest(value.lower(), digest.hex())
    standard = value.replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(decoded, digest)
