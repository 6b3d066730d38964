"""WhatsApp Business Cloud API webhook bodies shaped like Meta's documented examples
(the `messages` webhook reference): one builder for the envelope, one per message kind."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

PHONE_NUMBER_ID = "106540352242922"
DISPLAY = "15550783881"
CUSTOMER = "16505551234"


def envelope(*values: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [{"value": value, "field": field} for value in values],
            }
        ],
    }


def value(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    made: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY, "phone_number_id": phone_number_id},
    }
    if messages is not None:
        made["contacts"] = [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}]
        made["messages"] = messages
    if statuses is not None:
        made["statuses"] = statuses
    return made


def message(kind: str, body: dict[str, Any], n: int = 1, **more: Any) -> dict[str, Any]:
    return {
        "from": CUSTOMER,
        "id": f"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA{n}",
        "timestamp": "1749416383",
        "type": kind,
        kind: body,
        **more,
    }


def text(body: str = "Does it come in another color?", n: int = 1) -> dict[str, Any]:
    return message("text", {"body": body}, n)


def status(message_id: str, state: str, timestamp: str = "1750263773") -> dict[str, Any]:
    made: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": timestamp,
        "recipient_id": CUSTOMER,
    }
    if state == "failed":
        made["errors"] = [
            {
                "code": 131049,
                "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            }
        ]
    else:
        made["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "marketing"}
    return made


def encoded(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def signed(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 Meta sends with `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
