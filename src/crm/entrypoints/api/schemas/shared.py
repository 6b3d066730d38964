"""Schemas several resources share, and named components the document declares by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from crm.domain.model.instant import RANGE, in_utc
from crm.domain.model.tags import MAX_TAG_FILTER

Scalar = str | int | float | bool | list[str] | None

# A named component rather than an inline `anyOf` in every map: SDK generators turn an
# inline union of primitives into an empty class; a named one can be mapped to `Any`.
CUSTOM_FIELD_VALUE = "CustomFieldValue"
COMPONENTS: dict[str, dict[str, Any]] = {
    CUSTOM_FIELD_VALUE: {
        "title": CUSTOM_FIELD_VALUE,
        "description": (
            "A custom field's value, checked against the field's definition "
            "(GET /v1/custom-fields): a string (text, date, datetime, url, email, phone, "
            "single_select), number, boolean, a list of option values (multi_select), "
            "or null (clears the value when writing)"
        ),
        # No `type`: openapi-generator warns on a named `anyOf` of primitives, and its 3.1
        # normalizer refuses a type array that includes "array". Any JSON value is allowed
        # here; the field's definition decides, and the server validates every write.
    },
    # The body of the CSV exports (POST /v1/{objects}/export).
    "CsvFile": {
        "title": "CsvFile",
        "type": "string",
        "description": "RFC 4180 CSV in UTF-8: a header row, then one row per record",
    },
    # Meta's WhatsApp Business notification (POST /v1/webhooks/whatsapp).
    "WhatsAppNotification": {
        "title": "WhatsAppNotification",
        "type": "object",
        "description": "A WhatsApp Business Account notification as Meta sends it.",
        "required": ["object", "entry"],
        "additionalProperties": False,
        "properties": {
            "object": {"type": "string", "enum": ["whatsapp_business_account"]},
            "entry": {"type": "array", "items": {"type": "object"}},
        },
        "example": {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "106540352242922",
                                },
                                "contacts": [
                                    {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}
                                ],
                                "messages": [
                                    {
                                        "from": "16505551234",
                                        "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAz",
                                        "timestamp": "1749416383",
                                        "type": "text",
                                        "text": {"body": "Does it come in another color?"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        },
    },
    "WhatsAppChallenge": {
        "title": "WhatsAppChallenge",
        "type": "string",
        "description": "`hub.challenge`, echoed as plain text",
        "example": "1158201444",
    },
    "WhatsAppReceipt": {
        "title": "WhatsAppReceipt",
        "type": "object",
        "required": ["queued"],
        "properties": {
            "queued": {
                "type": "integer",
                "minimum": 0,
                "description": "Queue messages it took (0: nothing to apply)",
            }
        },
    },
    # The body of GET /v1/events/stream.
    "EventStream": {
        "title": "EventStream",
        "type": "string",
        "description": (
            "Server-Sent Events (text/event-stream, UTF-8). It opens with `: open` and a "
            "`retry:` field once every event committed from then on will be sent. Each event: "
            "`id: <event id>`, `event: <type>` (`contact.updated`) and `data:` one JSON object "
            "with `format` (1), `id`, `type`, `workspace_id`, `aggregate_type`, "
            "`aggregate_id`, `actor_id`, `occurred_at` and `payload` (as recorded; updates "
            "carry `changes` with old and new values). `: ping` comments keep an idle stream "
            'open. `event: reset` (`data: {"reason": ...}`: `unknown_event`, `too_far_behind`, '
            "`too_slow`) means the stream cannot say what was missed: re-read, then go on "
            "(after `too_slow` the stream closes). `event: close` (`shutdown`, "
            "`credentials_changed`) is the last message: reconnect with Last-Event-ID."
        ),
        "example": (
            ": open\nretry: 2000\n\nid: 0193a6b2-7c1e-7d4a-9f00-2b1c3d4e5f60\n"
            'event: contact.created\ndata: {"format":1,"id":"0193a6b2-7c1e-7d4a-9f00-'
            '2b1c3d4e5f60","type":"contact.created",...}\n\n: ping\n\n'
        ),
    },
}
_REF = WithJsonSchema({"$ref": f"#/components/schemas/{CUSTOM_FIELD_VALUE}"})


def _scalar(value: object) -> Scalar:
    # One precise error per bad value, instead of one per member of the union.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise PydanticCustomError(
        "not_a_scalar", "must be a string, number, boolean, list of strings or null"
    )


ScalarInput = Annotated[Scalar, PlainValidator(_scalar), _REF]
ScalarOutput = Annotated[Scalar, _REF]


def _utc(value: datetime) -> datetime:
    converted = in_utc(value)
    if converted is None:
        raise PydanticCustomError("datetime_out_of_range", f"must be {RANGE}")
    return converted


# Every date-time the API accepts: an offset is required, and the time is converted to UTC
# here, where a time UTC cannot hold (0001-01-01T00:00:00+14:00) is a 422 naming the field.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]


TagFilter = Annotated[
    list[Annotated[str, Field(max_length=64)]] | None,
    Query(
        max_length=MAX_TAG_FILTER,
        description=(
            "Only records carrying this tag (compared like stored tags: case and extra spaces "
            "do not matter). Repeat it to require several tags at once: `?tag=vip&tag=emea` "
            "lists the records carrying both."
        ),
    ),
]
