"""Outbound webhooks: subscriptions and deliveries (inside a unit of work), name resolution,
the HTTP sender, and the records a delivery carries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from crm.domain.errors import PortError
from crm.domain.model.webhook_deliveries import AttemptResult, WebhookDelivery
from crm.domain.model.webhook_targets import IPAddress
from crm.domain.model.webhooks import WebhookSubscription
from crm.domain.pagination import Page, PageRequest


class WebhookSubscriptionRepository(Protocol):
    async def add(self, subscription: WebhookSubscription) -> None: ...

    async def get(
        self, workspace_id: UUID, subscription_id: UUID
    ) -> WebhookSubscription | None: ...

    async def get_for_update(
        self, workspace_id: UUID, subscription_id: UUID
    ) -> WebhookSubscription | None:
        """Locked until the unit of work ends."""

    async def lock_many(self, subscription_ids: Sequence[UUID]) -> list[WebhookSubscription]:
        """Those of `subscription_ids` that exist (any workspace), locked, in id order."""

    async def save(self, subscription: WebhookSubscription, expected_version: int) -> None:
        """VersionConflict when the stored version is no longer `expected_version`."""

    async def remove(self, subscription: WebhookSubscription) -> None:
        """Its deliveries go with it."""

    async def matching(self, workspace_id: UUID, event_type: str) -> list[WebhookSubscription]:
        """The workspace's enabled subscriptions with a pattern matching `event_type`."""

    async def mark_healthy(self, subscription_ids: Sequence[UUID]) -> None:
        """Forget the failures of those that have any (a delivery to them just succeeded);
        a subscription without failures is not written (nor locked)."""

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[WebhookSubscription]:
        """Oldest first (keyset on created_at, id)."""


class WebhookDeliveryRepository(Protocol):
    async def add(self, deliveries: Sequence[WebhookDelivery]) -> None:
        """A delivery of an event a subscription already has is skipped."""

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        """Up to `limit` pending deliveries due at `now` (oldest due first) of enabled
        subscriptions, with their subscription; each is moved to `lease_until`, so that no
        other claim takes it meanwhile. Rows another unit of work holds are skipped."""

    async def get_for_update(
        self, workspace_id: UUID, subscription_id: UUID, delivery_id: UUID
    ) -> WebhookDelivery | None: ...

    async def lock_many(self, delivery_ids: Sequence[UUID]) -> list[WebhookDelivery]:
        """Those of `delivery_ids` that exist, locked, in id order."""

    async def save(self, deliveries: Sequence[WebhookDelivery]) -> None:
        """Write back status, attempts and schedule."""

    async def list(
        self, workspace_id: UUID, subscription_id: UUID, page: PageRequest
    ) -> Page[WebhookDelivery]:
        """Newest first (keyset on created_at, id)."""

    async def purge(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` finished deliveries made before `before`; how many went."""


class HostUnresolvable(PortError):
    """The name does not resolve (or resolving it failed)."""


class HostResolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to (an IP literal resolves to itself); raises
        HostUnresolvable."""


class WebhookSender(Protocol):
    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        """POST `body` once, connecting only to an address the target policy allows (checked
        on every new connection), following no redirect, reading at most 4 KiB of the
        answer, within the timeout. Never raises for the receiver's failures: they are the
        result (`error`)."""

    async def close(self) -> None: ...


class RecordReader(Protocol):
    async def record(
        self, workspace_id: UUID, aggregate_type: str, aggregate_id: UUID
    ) -> dict[str, Any] | None:
        """The record as stored, as JSON; None when it is gone or of a kind not read."""
