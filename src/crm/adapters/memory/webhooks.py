"""Webhook subscriptions and deliveries in memory (no locks to take or skip: a memory unit of
work holds the whole store while it runs)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.state import MemoryState
from crm.domain.errors import VersionConflict
from crm.domain.model.delivery import topic_matches
from crm.domain.model.webhook_deliveries import DeliveryStatus, WebhookDelivery
from crm.domain.model.webhooks import WebhookSubscription
from crm.domain.pagination import Page, PageRequest, SortOrder


class InMemoryWebhookSubscriptionRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, subscription: WebhookSubscription) -> None:
        self._s.webhook_subscriptions[subscription.id] = copy.deepcopy(subscription)

    async def get(self, workspace_id: UUID, subscription_id: UUID) -> WebhookSubscription | None:
        found = self._s.webhook_subscriptions.get(subscription_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def get_for_update(
        self, workspace_id: UUID, subscription_id: UUID
    ) -> WebhookSubscription | None:
        return await self.get(workspace_id, subscription_id)

    async def lock_many(self, subscription_ids: Sequence[UUID]) -> list[WebhookSubscription]:
        held = self._s.webhook_subscriptions
        return [copy.deepcopy(held[i]) for i in sorted(set(subscription_ids)) if i in held]

    async def save(self, subscription: WebhookSubscription, expected_version: int) -> None:
        stored = self._s.webhook_subscriptions.get(subscription.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The webhook subscription changed meanwhile.")
        self._s.webhook_subscriptions[subscription.id] = copy.deepcopy(subscription)

    async def remove(self, subscription: WebhookSubscription) -> None:
        self._s.webhook_subscriptions.pop(subscription.id, None)
        deliveries = self._s.webhook_deliveries
        for gone in [d.id for d in deliveries.values() if d.subscription_id == subscription.id]:
            del deliveries[gone]

    async def matching(self, workspace_id: UUID, event_type: str) -> list[WebhookSubscription]:
        return [
            copy.deepcopy(s)
            for s in sorted(self._s.webhook_subscriptions.values(), key=lambda s: s.id)
            if s.workspace_id == workspace_id
            and s.enabled
            and any(topic_matches(p, event_type) for p in s.event_types)
        ]

    async def mark_healthy(self, subscription_ids: Sequence[UUID]) -> None:
        for subscription_id in subscription_ids:
            found = self._s.webhook_subscriptions.get(subscription_id)
            if found is not None:
                found.failing_since = None

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[WebhookSubscription]:
        mine = [s for s in self._s.webhook_subscriptions.values() if s.workspace_id == workspace_id]
        oldest_first = replace(page, order=SortOrder.OLDEST_FIRST)
        return keyset_page(mine, lambda s: (s.created_at, s.id), oldest_first)


class InMemoryWebhookDeliveryRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, deliveries: Sequence[WebhookDelivery]) -> None:
        taken = {(d.subscription_id, d.event_id) for d in self._s.webhook_deliveries.values()}
        for delivery in deliveries:
            if (delivery.subscription_id, delivery.event_id) not in taken:
                taken.add((delivery.subscription_id, delivery.event_id))
                self._s.webhook_deliveries[delivery.id] = copy.deepcopy(delivery)

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        subscriptions = self._s.webhook_subscriptions
        due = [
            d
            for d in self._s.webhook_deliveries.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and subscriptions[d.subscription_id].enabled
        ]
        due.sort(key=lambda d: (d.next_attempt_at, d.id))
        claimed = []
        for delivery in due[:limit]:
            delivery.next_attempt_at = lease_until
            subscription = subscriptions[delivery.subscription_id]
            claimed.append((copy.deepcopy(delivery), copy.deepcopy(subscription)))
        return claimed

    async def get_for_update(
        self, workspace_id: UUID, subscription_id: UUID, delivery_id: UUID
    ) -> WebhookDelivery | None:
        found = self._s.webhook_deliveries.get(delivery_id)
        if found is None or (found.workspace_id, found.subscription_id) != (
            workspace_id,
            subscription_id,
        ):
            return None
        return copy.deepcopy(found)

    async def lock_many(self, delivery_ids: Sequence[UUID]) -> list[WebhookDelivery]:
        held = self._s.webhook_deliveries
        return [copy.deepcopy(held[i]) for i in sorted(set(delivery_ids)) if i in held]

    async def save(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            if delivery.id in self._s.webhook_deliveries:
                self._s.webhook_deliveries[delivery.id] = copy.deepcopy(delivery)

    async def list(
        self, workspace_id: UUID, subscription_id: UUID, page: PageRequest
    ) -> Page[WebhookDelivery]:
        mine = [
            d
            for d in self._s.webhook_deliveries.values()
            if d.workspace_id == workspace_id and d.subscription_id == subscription_id
        ]
        newest_first = replace(page, order=SortOrder.NEWEST_FIRST)
        return keyset_page(mine, lambda d: (d.created_at, d.id), newest_first)

    async def purge(self, before: datetime, limit: int) -> int:
        done = [
            d.id
            for d in self._s.webhook_deliveries.values()
            if d.status is not DeliveryStatus.PENDING and d.created_at < before
        ][:limit]
        for delivery_id in done:
            del self._s.webhook_deliveries[delivery_id]
        return len(done)
