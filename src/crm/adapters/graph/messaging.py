"""The MessagingProvider port over the WhatsApp Business Cloud API (Meta's Graph API).

Sending is POST /{version}/{phone-number-id}/messages with the channel's token as a bearer;
Meta answers `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id"}]}`.
Media is GET /{version}/{media-id} (`{url, mime_type, sha256, file_size, id,
messaging_product}`), then a GET of that short-lived url with the same bearer. Errors are
`{"error": {"message", "type", "code", "error_data", "error_subcode", "fbtrace_id"}}`, read
into the domain's errors by `graph.errors`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import httpx

from crm.adapters.graph.errors import PROVIDER, graph_error, read_json, transport_errors
from crm.domain.errors import PortError
from crm.domain.model.messaging import (
    FetchedMedia,
    MediaCorrupted,
    MediaTooLarge,
    Sender,
    SentMessage,
    WhatsAppUnavailable,
    check_media_request,
    check_text,
    sha256_matches,
)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v21.0"

_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class _MediaInfo:
    url: httpx.URL
    mime_type: str | None
    sha256: str | None
    file_size: int | None


class GraphMessagingProvider:
    """One httpx client (its pool shared by every channel), made now and closed by `close`."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        version: str = DEFAULT_VERSION,
        timeout: float = 10.0,
        media_timeout: float = 60.0,
        max_connections: int = 32,
    ) -> None:
        if not _VERSION.fullmatch(version):
            raise ValueError(f"not a Graph API version: {version!r} (e.g. v21.0)")
        # Parsed now so a malformed base URL fails at start-up, not on the first reply.
        base = httpx.URL(base_url.rstrip("/") + "/")
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self._api = f"{base_url.rstrip('/')}/{version}"
        self._https_only = base.scheme == "https"
        self._media_timeout = media_timeout
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=16)
        self._client = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)

    async def send_text(
        self, sender: Sender, to: str, text: str, reply_to: str | None = None
    ) -> SentMessage:
        """Send a text message (a reply when `reply_to` names one) and return its wamid."""
        check_text(to, text, reply_to)
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": text},
        }
        if reply_to is not None:
            body["context"] = {"message_id": reply_to}
        url = f"{self._api}/{sender.phone_number_id}/messages"
        with transport_errors():
            response = await self._client.post(url, json=body, headers=_bearer(sender))
            if response.status_code != httpx.codes.OK:
                raise graph_error(response.status_code, response.content, sender)
        return _sent(response)

    async def fetch_media(self, sender: Sender, media_id: str, max_bytes: int) -> FetchedMedia:
        """Look the media up, download it (at most `max_bytes`) and check its SHA-256."""
        check_media_request(media_id, max_bytes)
        try:
            async with asyncio.timeout(self._media_timeout):
                info = await self._media_info(sender, media_id)
                if info.file_size is not None and info.file_size > max_bytes:
                    raise _too_large(media_id, max_bytes)
                data, content_type = await self._download(info.url, sender, media_id, max_bytes)
        except TimeoutError as e:
            raise WhatsAppUnavailable(
                f"{PROVIDER} media {media_id} took over {self._media_timeout:g} s"
            ) from e
        if info.sha256 is not None and not sha256_matches(info.sha256, data):
            raise MediaCorrupted(f"{PROVIDER} media {media_id} does not match its SHA-256")
        mime_type = info.mime_type or content_type or "application/octet-stream"
        return FetchedMedia(data, mime_type, hashlib.sha256(data).hexdigest())

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _media_info(self, sender: Sender, media_id: str) -> _MediaInfo:
        # phone_number_id makes Meta check that the media was sent to this number.
        params = {"phone_number_id": sender.phone_number_id}
        with transport_errors():
            response = await self._client.get(
                f"{self._api}/{media_id}", params=params, headers=_bearer(sender)
            )
            if response.status_code != httpx.codes.OK:
                raise graph_error(response.status_code, response.content, sender)
        body = read_json(response.content)
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise PortError(f"{PROVIDER} answered media {media_id} without a url")
        return _MediaInfo(
            url=self._download_url(body["url"], media_id),
            mime_type=_mime(body.get("mime_type")),
            sha256=body["sha256"] if isinstance(body.get("sha256"), str) else None,
            file_size=_size(body.get("file_size")),
        )

    def _download_url(self, raw: str, media_id: str) -> httpx.URL:
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL as e:
            raise PortError(f"{PROVIDER} gave media {media_id} an unreadable url") from e
        allowed = ("https",) if self._https_only else ("http", "https")
        if url.scheme not in allowed or not url.host:
            # The token goes with the download: never to a relative or plain-text address.
            raise PortError(f"{PROVIDER} gave media {media_id} a url we do not fetch")
        return url

    async def _download(
        self, url: httpx.URL, sender: Sender, media_id: str, max_bytes: int
    ) -> tuple[bytes, str | None]:
        with transport_errors():
            async with self._client.stream("GET", url, headers=_bearer(sender)) as response:
                if response.status_code != httpx.codes.OK:
                    body = await _read_at_most(response, _MAX_ERROR_BODY)
                    raise graph_error(response.status_code, body, sender)
                declared = _size(response.headers.get("content-length"))
                if declared is not None and declared > max_bytes:
                    raise _too_large(media_id, max_bytes)
                data = await _read_at_most(response, max_bytes + 1)
                if len(data) > max_bytes:
                    raise _too_large(media_id, max_bytes)
                return data, _mime(response.headers.get("content-type"))


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the (decoded) body; leaving the stream early drops the rest."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _bearer(sender: Sender) -> dict[str, str]:
    return {"Authorization": f"Bearer {sender.access_token}"}


def _too_large(media_id: str, max_bytes: int) -> MediaTooLarge:
    return MediaTooLarge(f"WhatsApp media {media_id} is over {max_bytes} bytes; it was not kept.")


def _sent(response: httpx.Response) -> SentMessage:
    body = read_json(response.content)
    body = body if isinstance(body, dict) else {}
    messages, contacts = body.get("messages"), body.get("contacts")
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(message_id, str) or not message_id:
        # Not a verdict, and not retried: the message may have gone out all the same.
        raise PortError(f"{PROVIDER} answered 200 without a message id")
    contact = contacts[0] if isinstance(contacts, list) and contacts else None
    wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
    return SentMessage(message_id, wa_id if isinstance(wa_id, str) and wa_id else None)


def _mime(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    kind = value.split(";")[0].strip().lower()
    return kind[:255] or None


def _size(value: Any) -> int | None:
    """Meta writes sizes as numbers or as strings of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None
