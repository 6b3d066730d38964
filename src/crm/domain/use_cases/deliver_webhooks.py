"""The delivery loop: due webhook deliveries claimed, POSTed, and their outcomes recorded."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.domain.errors import PortError
from crm.domain.model.events import WebhookSubscriptionDisabled
from crm.domain.model.snapshot import jsonable
from crm.domain.model.webhook_deliveries import (
    AttemptResult,
    Outcome,
    RetryPolicy,
    WebhookDelivery,
    headers,
)
from crm.domain.model.webhooks import WebhookSubscription
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from crm.ports.webhooks import WebhookSender

log = logging.getLogger("crm.webhooks")


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    batch_size: int = 100
    """Deliveries claimed per round."""
    concurrency: int = 32
    """POSTs in flight at once per loop."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claimed delivery is kept from other workers (longer than one POST)."""
    idle_seconds: float = 0.5
    """The wait between rounds when nothing was due."""


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery: WebhookDelivery
    result: AttemptResult
    at: datetime


class DeliverWebhooks:
    """Claims due deliveries (skipping what other workers hold), POSTs them concurrently and
    records each outcome: success clears the subscription's failures; 410 disables it; any
    other failure schedules a retry (backoff with full jitter) until the retry window ends,
    and a subscription failing for `disable_after` is disabled (an event, which emails its
    workspace's owners and admins)."""

    name = "webhook-deliveries"

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        sender: WebhookSender,
        policy: RetryPolicy,
        options: DeliveryOptions | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._uow, self._clock, self._ids, self._sender = uow, clock, ids, sender
        self._policy, self._options = policy, options or DeliveryOptions()
        self._jitter = jitter
        self._slots = asyncio.Semaphore(self._options.concurrency)
        self._wake = asyncio.Event()

    async def execute(self) -> int:
        """One round: how many deliveries it attempted."""
        now = self._clock.now()
        async with self._uow() as tx:
            claimed = await tx.webhook_deliveries.claim_due(
                now, self._options.batch_size, now + self._options.lease
            )
            await tx.commit()
        if not claimed:
            return 0
        attempts = await asyncio.gather(*(self._attempt(d, s) for d, s in claimed))
        await self._record(sorted(attempts, key=lambda a: a.at))
        return len(claimed)

    def wake(self) -> None:
        """Cut the idle wait short (a delivery was just made due in this process)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                attempted = await self.execute()
            except PortError as e:
                log.warning("webhook round failed, retrying: %r", e)
                attempted = 0
            except Exception:
                log.exception("webhook round failed, retrying")
                attempted = 0
            if attempted < self._options.batch_size:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        timeout = self._options.idle_seconds
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        self._wake.clear()

    async def _attempt(self, delivery: WebhookDelivery, to: WebhookSubscription) -> _Attempt:
        async with self._slots:
            at = self._clock.now()
            signed = headers(delivery, to.signing_secrets(at), int(at.timestamp()))
            try:
                result = await self._sender.send(to.url, signed, delivery.body.encode())
            except Exception as e:  # a sender bug must not lose the round's other outcomes
                log.exception("sending webhook delivery %s failed", delivery.id)
                result = AttemptResult(None, 0, f"internal error: {type(e).__name__}")
            return _Attempt(delivery, result, self._clock.now())

    async def _record(self, attempts: list[_Attempt]) -> None:
        """One transaction: the subscriptions concerned are locked before the deliveries
        (the order deleting a subscription takes too), then every outcome applied in turn."""
        failing = {a.delivery.subscription_id for a in attempts if not _succeeded(a)}
        async with self._uow() as tx:
            locked = await tx.webhook_subscriptions.lock_many(sorted(failing))
            subscriptions = {s.id: s for s in locked}
            versions = {s.id: s.version for s in subscriptions.values()}
            healthy = {a.delivery.subscription_id for a in attempts} - failing
            await tx.webhook_subscriptions.mark_healthy(sorted(healthy))
            ids = [a.delivery.id for a in attempts]
            deliveries = {d.id: d for d in await tx.webhook_deliveries.lock_many(ids)}
            disabled = []
            for a in attempts:
                delivery = deliveries.get(a.delivery.id)
                if delivery is None:
                    continue  # deleted with its subscription meanwhile
                outcome = delivery.record(a.result, a.at, self._policy, self._jitter())
                subscription = subscriptions.get(delivery.subscription_id)
                if subscription is not None and self._apply(subscription, outcome, a.at):
                    disabled.append(subscription)
            await tx.webhook_deliveries.save(list(deliveries.values()))
            for s in subscriptions.values():
                await tx.webhook_subscriptions.save(s, expected_version=versions[s.id])
            await self._announce(tx, disabled)
            await tx.commit()

    def _apply(self, subscription: WebhookSubscription, outcome: Outcome, at: datetime) -> bool:
        """True when this outcome disables the subscription."""
        if outcome is Outcome.SUCCESS:
            subscription.record_success()
            return False
        if outcome is Outcome.GONE:
            if not subscription.enabled:
                return False
            subscription.failing_since = subscription.failing_since or at
            subscription.disable("gone", at)
            return True
        return subscription.record_failure(at, self._policy.disable_after)

    async def _announce(self, tx: UnitOfWork, disabled: list[WebhookSubscription]) -> None:
        if not disabled:
            return
        now = self._clock.now()
        await tx.outbox.add(
            [
                WebhookSubscriptionDisabled(
                    id=self._ids.new_id(),
                    workspace_id=s.workspace_id,
                    aggregate_id=s.id,
                    occurred_at=now,
                    actor_id=None,
                    payload={
                        "url": s.url,
                        "reason": s.disabled_reason,
                        "failing_since": jsonable(s.failing_since),
                    },
                )
                for s in disabled
            ]
        )


def _succeeded(attempt: _Attempt) -> bool:
    return attempt.result.outcome is Outcome.SUCCESS
