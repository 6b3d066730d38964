"""Graph API failures read into the domain's errors.

Meta asks for handling by `code` rather than by HTTP status or message text, so the code
decides first and the status only when the code is not one named here. Meta's message is
logged with its fbtrace_id (what Meta's support asks for) and never put in an error a client
could read; the token is redacted from it should Meta ever echo it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx

from crm.domain.errors import PortError
from crm.domain.model.messaging import (
    ChannelTokenRejected,
    RecipientUnreachable,
    ReplyWindowClosed,
    Sender,
    WhatsAppUnavailable,
)

log = logging.getLogger("crm.whatsapp")

PROVIDER = "WhatsApp Cloud API"
# 0 AuthException, 190 token expired or invalid, 10 and 200-299 permission missing (403).
_TOKEN_CODES = frozenset({0, 10, 190, *range(200, 300)})
_WINDOW_CLOSED = 131047
# 131026 undeliverable; 131030 not on the allowed list of a test number.
_UNREACHABLE = frozenset({131026, 131030})
# 2 service down, 4 and 80007 app or account call limits, 130429 throughput, 131056 pair
# rate, 131000 "something went wrong", 131016 and 133004 temporarily unavailable.
_TRANSIENT = frozenset({2, 4, 80007, 130429, 131000, 131016, 131056, 133004})
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_MAX_LOGGED = 300


@contextlib.contextmanager
def transport_errors() -> Iterator[None]:
    """httpx's timeouts and connection failures as ServiceUnavailable (retry later)."""
    try:
        yield
    except httpx.TimeoutException as e:
        raise WhatsAppUnavailable(f"{PROVIDER} did not answer in time") from e
    except httpx.HTTPError as e:
        raise WhatsAppUnavailable(f"{PROVIDER} is unreachable ({type(e).__name__})") from e


def graph_error(status: int, content: bytes, sender: Sender) -> Exception:
    """The error to raise for a non-200 answer; Meta's own words go to the log only."""
    body = read_json(content)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    trace = str(error.get("fbtrace_id") or "none")[:64]
    message = str(error.get("message") or "")[:_MAX_LOGGED]
    log.warning(
        "%s answered %s: code %s, subcode %s, type %s, fbtrace_id %s: %s",
        PROVIDER,
        status,
        code,
        error.get("error_subcode"),
        error.get("type"),
        trace,
        message.replace(sender.access_token, "[redacted]"),
    )
    where = f"{PROVIDER} answered {status} (code {code}, fbtrace_id {trace})"
    return _classified(status, code, sender, where)


def _classified(status: int, code: int | None, sender: Sender, where: str) -> Exception:
    if code in _TOKEN_CODES or status == httpx.codes.UNAUTHORIZED:
        return ChannelTokenRejected(
            f"WhatsApp refused the access token of phone number id {sender.phone_number_id}: "
            "it expired, was revoked or lacks the messaging permission. Give the channel a "
            "new token."
        )
    if code == _WINDOW_CLOSED:
        return ReplyWindowClosed(
            "More than 24 hours have passed since the customer's last message; only a "
            "template message can reach them now."
        )
    if code in _UNREACHABLE:
        return RecipientUnreachable("WhatsApp cannot deliver messages to this number.")
    if code in _TRANSIENT or status >= 500 or status in _TRANSIENT_STATUSES:
        return WhatsAppUnavailable(where)
    return PortError(where)


def read_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:  # not JSON, or not UTF-8
        return None
