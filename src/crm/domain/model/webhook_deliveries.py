"""Webhook deliveries: one event on its way to one subscription, its attempts, and the rules
for retrying, giving up and signing."""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from crm.domain.errors import NotFound
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.webhooks import WebhookSubscription

SIGNATURE_HEADER = "CRM-Signature"
USER_AGENT = "CRM-Webhooks/1.0"
MAX_RESPONSE_BYTES = 4096
"""How much of a receiver's answer is read; the rest is never downloaded."""


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    title = "Webhook delivery not found"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its first attempt or a retry."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Given up: retried past its window, or the receiver answered 410 Gone."""


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    GONE = "gone"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one POST came to: the status code (None when no answer came), how long it took,
    and what went wrong (a timeout, a refused address ...)."""

    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def outcome(self) -> Outcome:
        if self.error is None and self.status_code is not None and 200 <= self.status_code < 300:
            return Outcome.SUCCESS
        if self.error is None and self.status_code == 410:
            return Outcome.GONE
        return Outcome.FAILURE

    @property
    def explanation(self) -> str | None:
        if self.error is not None or self.status_code is None:
            return self.error
        if 300 <= self.status_code < 400:
            return f"HTTP {self.status_code}: redirects are not followed"
        if self.status_code == 410:
            return "HTTP 410 Gone: the subscription was disabled"
        if not 200 <= self.status_code < 300:
            return f"HTTP {self.status_code}"
        return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: after the n-th failed attempt the next comes a
    random time between 1 s and min(cap, base * 2^(n-1)) later, until `window` after the
    delivery was made (a last attempt lands at its end). A subscription failing for
    `disable_after` since its last success is disabled."""

    base_seconds: float = 10.0
    cap_seconds: float = 4 * 3600.0
    window: timedelta = timedelta(days=3)
    disable_after: timedelta = timedelta(days=3)

    def delay(self, attempts: int, jitter: float) -> timedelta:
        """`jitter` is uniform in [0, 1)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(attempts - 1, 40))
        return timedelta(seconds=max(1.0, jitter * ceiling))


@dataclass(slots=True, kw_only=True)
class WebhookDelivery:
    id: UUID
    workspace_id: UUID
    subscription_id: UUID
    event_id: UUID
    event_type: str
    body: str
    """The JSON sent, made once when the delivery was made (every attempt sends the same)."""
    created_at: datetime
    give_up_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None

    @classmethod
    def new(
        cls,
        id: UUID,
        subscription: WebhookSubscription,
        event: PublishedEvent,
        body: str,
        now: datetime,
        window: timedelta,
    ) -> WebhookDelivery:
        return cls(
            id=id,
            workspace_id=event.workspace_id,
            subscription_id=subscription.id,
            event_id=event.id,
            event_type=event.type,
            body=body,
            created_at=now,
            give_up_at=now + window,
            next_attempt_at=now,
        )

    def record(
        self, result: AttemptResult, at: datetime, policy: RetryPolicy, jitter: float
    ) -> Outcome:
        """Note an attempt made at `at` and schedule the next one, if any."""
        self.attempts += 1
        self.last_attempt_at = at
        self.status_code, self.latency_ms = result.status_code, result.latency_ms
        self.error = result.explanation
        outcome = result.outcome
        if outcome is Outcome.SUCCESS:
            self.status, self.next_attempt_at = DeliveryStatus.SUCCEEDED, None
        elif outcome is Outcome.GONE or at >= self.give_up_at:
            self.status, self.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            self.next_attempt_at = min(at + policy.delay(self.attempts, jitter), self.give_up_at)
        return outcome

    def requeue(self, now: datetime, window: timedelta) -> None:
        """Try again now (a manual retry), with a fresh retry window."""
        self.status, self.next_attempt_at = DeliveryStatus.PENDING, now
        self.give_up_at = now + window


def signature(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one `v1` per secret (two while
    a rotated secret still signs). The key is the whole secret, `whsec_` included."""
    signed = f"{timestamp}.".encode() + body
    macs = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return ",".join([f"t={timestamp}", *(f"v1={mac}" for mac in macs)])


def headers(delivery: WebhookDelivery, secrets: Sequence[str], timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "CRM-Event-ID": str(delivery.event_id),
        "CRM-Event-Type": delivery.event_type,
        "CRM-Delivery-ID": str(delivery.id),
        SIGNATURE_HEADER: signature(secrets, delivery.body.encode(), timestamp),
    }


def body_of(event: PublishedEvent, record: Mapping[str, Any] | None) -> str:
    """What a receiver gets for `event`: the event's identity, the record as stored when the
    delivery was made (`record`), for a gone record what a `*.deleted` event recorded, the
    `changes` an update recorded, and the event's other facts (`data`)."""
    payload = dict(event.payload)
    changes = payload.pop("changes", None)
    if record is None and event.type.endswith(".deleted") and payload:
        record = payload
    document: dict[str, Any] = {
        "id": str(event.id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "workspace_id": str(event.workspace_id),
        "object": {"type": event.aggregate_type, "id": str(event.aggregate_id)},
        "record": record,
    }
    if isinstance(changes, dict):
        document["changes"] = changes
    if payload:
        document["data"] = payload
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)
