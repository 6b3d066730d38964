"""The Mailer port over Mailchimp Transactional's `messages/send` call.

The API takes the key in the JSON body, answers 200 with one result per recipient, and
answers errors with `{"status": "error", "code", "name", "message"}`. The HTTP status of an
error has changed over the years (an invalid key was a 500 until 2023, now a 401; a
ValidationError was a 500, now a 400), so the error's `name` decides first and the status
only when the name is unknown.
"""

from __future__ import annotations

from typing import Any

import httpx

from crm.domain.errors import DeliveryRejected, PortError, ServiceUnavailable
from crm.ports.mailer import EmailMessage

DEFAULT_BASE_URL = "https://mandrillapp.com/api/1.0"

_PROVIDER = "Mailchimp Transactional"
_ACCEPTED = frozenset({"sent", "queued", "scheduled"})
# Error names for which sending the same request again cannot succeed.
_PERMANENT = frozenset(
    {
        "Invalid_Key",
        "ValidationError",
        "PaymentRequired",
        "Unknown_Subaccount",
        "Unknown_Sender",
        "Unknown_Template",
    }
)
_TRANSIENT = frozenset({"GeneralError", "ServiceUnavailable"})
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_MAX_DETAIL = 200


class MailchimpTransactionalMailer:
    """Sends each message to one recipient; the key never leaves the request body."""

    def __init__(
        self,
        api_key: str,
        *,
        from_email: str,
        from_name: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._api_key = api_key
        self._from_email = from_email
        self._from_name = from_name
        # Built now so a malformed base URL fails at start-up, not on the first email.
        self._send_url = httpx.URL(base_url.rstrip("/") + "/messages/send")
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    async def send(self, message: EmailMessage) -> str:
        """Hand `message` to Mailchimp Transactional and return the recipient's message id."""
        payload = {"key": self._api_key, "message": self._message(message)}
        try:
            # The timeout is per request so an injected client's defaults cannot stretch it.
            response = await self._client.post(self._send_url, json=payload, timeout=self._timeout)
        except httpx.TimeoutException as e:
            raise ServiceUnavailable(f"{_PROVIDER} did not answer in time") from e
        except httpx.HTTPError as e:
            raise ServiceUnavailable(f"{_PROVIDER} is unreachable ({type(e).__name__})") from e
        if response.status_code != httpx.codes.OK:
            raise self._error(response)
        return _message_id(_recipient_result(response, message.to))

    async def close(self) -> None:
        """Close the HTTP client if this mailer created it."""
        if self._owns_client:
            await self._client.aclose()

    def _message(self, message: EmailMessage) -> dict[str, Any]:
        recipient: dict[str, str] = {"email": message.to, "type": "to"}
        if message.to_name:
            recipient["name"] = message.to_name
        body: dict[str, Any] = {
            "from_email": self._from_email,
            "subject": message.subject,
            "text": message.text,
            "to": [recipient],
            "tags": list(message.tags),
        }
        if self._from_name:
            body["from_name"] = self._from_name
        if message.html is not None:
            body["html"] = message.html
        return body

    def _error(self, response: httpx.Response) -> PortError:
        body = _json_or_none(response)
        name = body.get("name") if isinstance(body, dict) else None
        detail = str(body.get("message", "")) if isinstance(body, dict) else ""
        # The provider never echoes the key today; redacting keeps it that way if it starts.
        detail = detail.replace(self._api_key, "[redacted]")[:_MAX_DETAIL]
        text = f"{_PROVIDER} answered {response.status_code} {name or 'without an error name'}"
        text = f"{text}: {detail}" if detail else text
        if name in _PERMANENT:
            return DeliveryRejected(text)
        status = response.status_code
        if name in _TRANSIENT or status >= 500 or status in _TRANSIENT_STATUSES:
            return ServiceUnavailable(text)
        return DeliveryRejected(text)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _recipient_result(response: httpx.Response, recipient: str) -> dict[str, Any]:
    body = _json_or_none(response)
    if not isinstance(body, list) or not body or not all(isinstance(r, dict) for r in body):
        # A 200 that is not the documented array is a proxy or an outage page, not a verdict.
        raise ServiceUnavailable(f"{_PROVIDER} answered 200 without recipient results")
    wanted = recipient.casefold()
    matching = [r for r in body if str(r.get("email", "")).casefold() == wanted]
    result: dict[str, Any] = (matching or body)[0]
    return result


def _message_id(result: dict[str, Any]) -> str:
    status, message_id = result.get("status"), result.get("_id")
    if status in _ACCEPTED and isinstance(message_id, str) and message_id:
        return message_id
    if status == "rejected":
        reason = result.get("reject_reason") or "no reason given"
        raise DeliveryRejected(f"{_PROVIDER} rejected the recipient: {reason}")
    if status == "invalid":
        raise DeliveryRejected(f"{_PROVIDER} found the recipient address invalid")
    raise ServiceUnavailable(f"{_PROVIDER} answered an unexpected recipient status {status!r}")
