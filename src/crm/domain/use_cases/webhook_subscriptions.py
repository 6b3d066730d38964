"""Webhook subscriptions: owners and admins (and `admin` keys) create, read, change, delete
them and rotate their signing secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.model.permissions import Action, Principal
from crm.domain.model.webhook_targets import TargetPolicy, WebhookUrlRefused
from crm.domain.model.webhooks import (
    WebhookSubscription,
    WebhookSubscriptionNotFound,
    mint_secret,
    parse_subscription,
)
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_version
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from crm.ports.webhooks import HostResolver, HostUnresolvable


class WebhookTargets:
    """Checks a URL before it is saved: its form, its scheme, and (unless private targets are
    allowed) every address its host resolves to now. Deliveries check again as they connect."""

    def __init__(self, policy: TargetPolicy, resolver: HostResolver) -> None:
        self.policy, self._resolver = policy, resolver

    async def check(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise WebhookUrlRefused.because("invalid_url", "the URL must be a string")
        target = self.policy.check_url(raw)
        if self.policy.allow_private or target.literal is not None:
            return raw
        try:
            addresses = await self._resolver.resolve(target.host, target.port)
        except HostUnresolvable as e:
            why = f"{target.host} does not resolve"
            raise WebhookUrlRefused.because("unresolvable", why) from e
        for address in addresses:
            self.policy.check_address(target.host, address)
        return raw


async def subscription_for_change(
    uow: UnitOfWork, principal: Principal, subscription_id: UUID, if_match: int | None = None
) -> WebhookSubscription:
    found = await uow.webhook_subscriptions.get_for_update(principal.workspace_id, subscription_id)
    if found is None:
        raise not_found(subscription_id)
    check_version("webhook subscription", if_match, found.version)
    return found


def not_found(subscription_id: UUID) -> WebhookSubscriptionNotFound:
    return WebhookSubscriptionNotFound(f"No webhook subscription {subscription_id} here.")


class CreateWebhookSubscription:
    """Subscribe a URL to event types (`contact.*`, `deal.moved`, `*`); the signing secret is
    in this answer only. The URL must be https and must not point at an internal address."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, targets: WebhookTargets
    ) -> None:
        self._uow, self._clock, self._ids, self._targets = uow, clock, ids, targets

    async def execute(
        self, principal: Principal, raw: Mapping[str, Any]
    ) -> tuple[WebhookSubscription, str]:
        principal.require(Action.MANAGE_WEBHOOKS)
        values = parse_subscription(raw, creating=True)
        url = await self._targets.check(raw["url"])
        now, secret = self._clock.now(), mint_secret()
        subscription = WebhookSubscription(
            id=self._ids.new_id(),
            workspace_id=principal.workspace_id,
            url=url,
            event_types=values["event_types"],
            fields=values.get("fields"),
            description=values.get("description"),
            secret=secret,
            enabled=values.get("enabled", True),
            created_at=now,
            updated_at=now,
        )
        if not subscription.enabled:
            subscription.disabled_reason, subscription.disabled_at = "requested", now
        async with self._uow() as uow:
            await uow.webhook_subscriptions.add(subscription)
            await uow.commit()
        return subscription, secret


class ListWebhookSubscriptions:
    """The workspace's webhook subscriptions, oldest first (secrets are never shown)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, page: PageRequest) -> Page[WebhookSubscription]:
        principal.require(Action.MANAGE_WEBHOOKS)
        async with self._uow() as uow:
            return await uow.webhook_subscriptions.list(principal.workspace_id, page)


class GetWebhookSubscription:
    """One webhook subscription: its URL, event types, fields, and whether it is enabled."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, subscription_id: UUID) -> WebhookSubscription:
        principal.require(Action.MANAGE_WEBHOOKS)
        async with self._uow() as uow:
            found = await uow.webhook_subscriptions.get(principal.workspace_id, subscription_id)
        if found is None:
            raise not_found(subscription_id)
        return found


@dataclass(frozen=True, slots=True)
class UpdateWebhookSubscriptionCommand:
    principal: Principal
    subscription_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdateWebhookSubscription:
    """Change the URL, event types, fields or description; `enabled: true` re-enables a
    disabled subscription (its pending deliveries resume), `enabled: false` pauses it."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, targets: WebhookTargets) -> None:
        self._uow, self._clock, self._targets = uow, clock, targets

    async def execute(self, cmd: UpdateWebhookSubscriptionCommand) -> WebhookSubscription:
        cmd.principal.require(Action.MANAGE_WEBHOOKS)
        values = parse_subscription(cmd.changes, creating=False)
        if "url" in cmd.changes:
            values["url"] = await self._targets.check(cmd.changes["url"])
        async with self._uow() as uow:
            found = await subscription_for_change(
                uow, cmd.principal, cmd.subscription_id, cmd.if_match
            )
            version = found.version
            if found.apply(values, self._clock.now()):
                await uow.webhook_subscriptions.save(found, expected_version=version)
                await uow.commit()
        return found


class DeleteWebhookSubscription:
    """Stop and delete a subscription with its delivery log."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(
        self, principal: Principal, subscription_id: UUID, if_match: int | None = None
    ) -> None:
        principal.require(Action.MANAGE_WEBHOOKS)
        async with self._uow() as uow:
            found = await subscription_for_change(uow, principal, subscription_id, if_match)
            await uow.webhook_subscriptions.remove(found)
            await uow.commit()


class RotateWebhookSecret:
    """A new signing secret, in this answer only; the previous one keeps signing as well for
    24 hours (two `v1=` values in CRM-Signature), so receivers can switch without a gap."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(
        self, principal: Principal, subscription_id: UUID
    ) -> tuple[WebhookSubscription, str]:
        principal.require(Action.MANAGE_WEBHOOKS)
        secret = mint_secret()
        async with self._uow() as uow:
            found = await subscription_for_change(uow, principal, subscription_id)
            version = found.version
            found.rotate(secret, self._clock.now())
            await uow.webhook_subscriptions.save(found, expected_version=version)
            await uow.commit()
        return found, secret
