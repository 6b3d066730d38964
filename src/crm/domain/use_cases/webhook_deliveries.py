"""A subscription's delivery log, a manual retry, and the test ping."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.webhook_deliveries import (
    RetryPolicy,
    WebhookDelivery,
    WebhookDeliveryNotFound,
    body_of,
)
from crm.domain.model.webhooks import PING, WebhookSubscription, WebhookSubscriptionDisabled
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases.webhook_subscriptions import not_found, subscription_for_change
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

Wake = Callable[[], None]
"""Tells this process's delivery loop, if it runs one, that a delivery is due now."""


def _nothing() -> None:
    return None


class ListWebhookDeliveries:
    """A subscription's deliveries, newest first: event, attempts, last status code, latency,
    error and the next retry."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(
        self, principal: Principal, subscription_id: UUID, page: PageRequest
    ) -> Page[WebhookDelivery]:
        principal.require(Action.MANAGE_WEBHOOKS)
        async with self._uow() as uow:
            ws = principal.workspace_id
            if await uow.webhook_subscriptions.get(ws, subscription_id) is None:
                raise not_found(subscription_id)
            return await uow.webhook_deliveries.list(ws, subscription_id, page)


async def _enabled(uow: UnitOfWork, principal: Principal, subscription_id: UUID) -> None:
    found = await subscription_for_change(uow, principal, subscription_id)
    _require_enabled(found)


def _require_enabled(subscription: WebhookSubscription) -> None:
    if not subscription.enabled:
        raise WebhookSubscriptionDisabled(
            "The subscription is disabled; PATCH it with enabled: true first."
        )


class RetryWebhookDelivery:
    """Send one delivery again now (whatever its status), with a fresh retry window."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, policy: RetryPolicy, wake: Wake = _nothing
    ) -> None:
        self._uow, self._clock, self._policy, self._wake = uow, clock, policy, wake

    async def execute(
        self, principal: Principal, subscription_id: UUID, delivery_id: UUID
    ) -> WebhookDelivery:
        principal.require(Action.MANAGE_WEBHOOKS)
        async with self._uow() as uow:
            await _enabled(uow, principal, subscription_id)
            ws = principal.workspace_id
            found = await uow.webhook_deliveries.get_for_update(ws, subscription_id, delivery_id)
            if found is None:
                raise WebhookDeliveryNotFound(f"No delivery {delivery_id} of this subscription.")
            found.requeue(self._clock.now(), self._policy.window)
            await uow.webhook_deliveries.save([found])
            await uow.commit()
        self._wake()
        return found


class SendWebhookPing:
    """Send a `ping` event to the subscription through the usual delivery path (signed,
    retried, in the log); the answer is the delivery, to follow in the log."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        policy: RetryPolicy,
        wake: Wake = _nothing,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._policy, self._wake = policy, wake

    async def execute(self, principal: Principal, subscription_id: UUID) -> WebhookDelivery:
        principal.require(Action.MANAGE_WEBHOOKS)
        now = self._clock.now()
        async with self._uow() as uow:
            found = await subscription_for_change(uow, principal, subscription_id)
            _require_enabled(found)
            ping = PublishedEvent(
                id=self._ids.new_id(),
                type=PING,
                workspace_id=found.workspace_id,
                aggregate_type="webhook_subscription",
                aggregate_id=found.id,
                actor_id=principal.actor_id,
                occurred_at=now,
            )
            delivery = WebhookDelivery.new(
                self._ids.new_id(), found, ping, body_of(ping, None), now, self._policy.window
            )
            await uow.webhook_deliveries.add([delivery])
            await uow.commit()
        self._wake()
        return delivery
