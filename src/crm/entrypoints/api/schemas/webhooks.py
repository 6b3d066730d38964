"""Webhook subscriptions and their deliveries: request and response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.webhook_targets import MAX_URL
from crm.domain.model.webhooks import MAX_DESCRIPTION, MAX_EVENT_TYPES, MAX_FIELDS

_CURSOR = "Pass as `cursor` for the next page; null at the end"
_URL = (
    "Where events are POSTed. https only (plain http is accepted in development or where "
    "CRM_WEBHOOK_ALLOW_PRIVATE is set); the host must resolve to public addresses only: "
    "loopback, private, link-local, multicast, reserved, CGNAT and cloud metadata addresses "
    "are refused (`422 webhook_url_refused`), now and again at every delivery."
)
_TYPES = (
    "Event types (`deal.moved`), prefixes (`contact.*`: every contact event) or `*` (every "
    "event). Each must match an event type the service records, else `422` "
    "`unknown_event_type`."
)
_FIELDS = (
    "Only for events that record changes (`*.updated`): send one only when one of these fields "
    "changed (`custom_fields.<key>` for a custom field). Null: every change. Other events are "
    "not filtered."
)
_ENABLED = (
    "False while paused or disabled by the service. PATCH `true` to resume: pending "
    "deliveries go out again and past failures are forgotten."
)
_REASON = (
    "Why it is disabled: `requested` (PATCH enabled false), `gone` (the receiver answered "
    "410), `failing` (every delivery failed for 3 days); null while enabled."
)
_SIGNING_KEY_TEXT = (
    "The signing secret (`whsec_...`), shown in this answer only. Receivers check "
    "`CRM-Signature` with it (see the README)."
)


def _input(example: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


Url = Annotated[str, Field(min_length=1, max_length=MAX_URL, description=_URL)]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    Field(min_length=1, max_length=MAX_EVENT_TYPES, description=_TYPES),
]
Fields = Annotated[
    list[Annotated[str, Field(max_length=130)]],
    Field(min_length=1, max_length=MAX_FIELDS, description=_FIELDS),
]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]


class WebhookSubscriptionCreate(BaseModel):
    """A URL and the events it wants."""

    model_config = _input(
        {
            "url": "https://hooks.example.com/crm",
            "event_types": ["contact.*", "deal.moved"],
            "fields": ["lifecycle_stage", "owner_id"],
            "description": "Sync to the data warehouse",
        }
    )
    url: Url
    event_types: EventTypes
    fields: Fields | None = None
    description: Description | None = None
    enabled: bool = Field(True, description=_ENABLED)


class WebhookSubscriptionUpdate(BaseModel):
    """Partial update; `fields: null` removes the field filter."""

    model_config = _input({"event_types": ["*"], "fields": None, "enabled": True})
    url: Url | None = None
    event_types: EventTypes | None = None
    fields: Fields | None = None
    description: Description | None = None
    enabled: bool | None = Field(None, description=_ENABLED)


class WebhookSubscription(BaseModel):
    id: UUID
    url: str = Field(description=_URL)
    event_types: list[str] = Field(description=_TYPES)
    fields: list[str] | None = Field(description=_FIELDS)
    description: str | None
    enabled: bool = Field(description=_ENABLED)
    disabled_reason: Literal["requested", "gone", "failing"] | None = Field(description=_REASON)
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="The first failed delivery since the last success; null while healthy"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the secret before the last rotation signs too"
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class WebhookSubscriptionWithSecret(WebhookSubscription):
    secret: str = Field(description=_SIGNING_KEY_TEXT)


class WebhookSubscriptionPage(BaseModel):
    data: list[WebhookSubscription]
    next_cursor: str | None = Field(description=_CURSOR)


class WebhookDelivery(BaseModel):
    id: UUID = Field(description="Sent as CRM-Delivery-ID")
    subscription_id: UUID
    event_id: UUID = Field(description="Sent as CRM-Event-ID: deduplicate on it")
    event_type: str = Field(description="Sent as CRM-Event-Type (`ping` for a test)")
    status: Literal["pending", "succeeded", "failed"] = Field(
        description="`failed`: given up (retried for CRM_WEBHOOK_RETRY_HOURS, or 410 Gone)"
    )
    attempts: int
    status_code: int | None = Field(description="Of the last attempt; null when none came")
    latency_ms: int | None = Field(description="Of the last attempt")
    error: str | None = Field(
        description="Why the last attempt failed (`timed out after 10 s`, `address refused: "
        "...`, `HTTP 503` ...)"
    )
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="The next retry; null once finished")
    give_up_at: datetime = Field(description="No retry after this time")
    created_at: datetime


class WebhookDeliveryPage(BaseModel):
    data: list[WebhookDelivery]
    next_cursor: str | None = Field(description=_CURSOR)
