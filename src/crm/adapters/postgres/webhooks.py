"""Webhook subscriptions and deliveries on one SQLAlchemy connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Text, Uuid, bindparam, delete, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.paging import page_of
from crm.domain.errors import VersionConflict
from crm.domain.model.webhook_deliveries import DeliveryStatus, WebhookDelivery
from crm.domain.model.webhooks import WebhookSubscription, patterns_matching
from crm.domain.pagination import Page, PageRequest

_s, _d = t.webhook_subscription.c, t.webhook_delivery.c

# SKIP LOCKED: concurrent workers split the due deliveries instead of queueing behind each
# other; the lease moves a claimed row out of every other claim until its attempt is recorded.
_CLAIM = text(
    "WITH due AS (SELECT d.id FROM webhook_delivery d "
    "JOIN webhook_subscription s ON s.id = d.subscription_id "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= :now AND s.enabled "
    "ORDER BY d.next_attempt_at, d.id LIMIT :limit FOR UPDATE OF d SKIP LOCKED) "
    "UPDATE webhook_delivery d SET next_attempt_at = :lease FROM due WHERE d.id = due.id "
    "RETURNING d.*"
)
_HEALTHY = text(
    "UPDATE webhook_subscription SET failing_since = NULL "
    "WHERE id = ANY(:ids) AND failing_since IS NOT NULL"
).bindparams(bindparam("ids", type_=ARRAY(Uuid())))
_MATCHING = text(
    "SELECT * FROM webhook_subscription WHERE workspace_id = :workspace_id AND enabled "
    "AND event_types && :patterns ORDER BY id"
).bindparams(bindparam("patterns", type_=ARRAY(Text())))
_PURGE = text(
    "DELETE FROM webhook_delivery WHERE id IN (SELECT id FROM webhook_delivery "
    "WHERE status <> 'pending' AND created_at < :before LIMIT :limit)"
)
_SAVE_DELIVERY = (
    update(t.webhook_delivery)
    .where(_d.id == bindparam("_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "attempts",
                "next_attempt_at",
                "give_up_at",
                "last_attempt_at",
                "status_code",
                "latency_ms",
                "error",
            )
        }
    )
)


def subscription_to_row(s: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": s.id,
        "workspace_id": s.workspace_id,
        "url": s.url,
        "event_types": list(s.event_types),
        "fields": None if s.fields is None else list(s.fields),
        "description": s.description,
        "secret": s.secret,
        "previous_secret": s.previous_secret,
        "previous_secret_expires_at": s.previous_secret_expires_at,
        "enabled": s.enabled,
        "disabled_reason": s.disabled_reason,
        "disabled_at": s.disabled_at,
        "failing_since": s.failing_since,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "version": s.version,
    }


def subscription_to_domain(row: Any) -> WebhookSubscription:
    values = dict(row)
    values["event_types"] = tuple(values["event_types"])
    values["fields"] = None if values["fields"] is None else tuple(values["fields"])
    return WebhookSubscription(**values)


def delivery_to_row(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "workspace_id": d.workspace_id,
        "subscription_id": d.subscription_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "body": d.body,
        "created_at": d.created_at,
        **_delivery_state(d),
    }


def _delivery_state(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "give_up_at": d.give_up_at,
        "last_attempt_at": d.last_attempt_at,
        "status_code": d.status_code,
        "latency_ms": d.latency_ms,
        "error": d.error,
    }


def delivery_to_domain(row: Any) -> WebhookDelivery:
    values = dict(row)
    values["status"] = DeliveryStatus(values["status"])
    return WebhookDelivery(**values)


class SqlWebhookSubscriptionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, subscription: WebhookSubscription) -> None:
        await self._conn.execute(insert(t.webhook_subscription), subscription_to_row(subscription))

    async def get(self, workspace_id: UUID, subscription_id: UUID) -> WebhookSubscription | None:
        return await self._one(workspace_id, subscription_id, lock=False)

    async def get_for_update(
        self, workspace_id: UUID, subscription_id: UUID
    ) -> WebhookSubscription | None:
        return await self._one(workspace_id, subscription_id, lock=True)

    async def _one(
        self, workspace_id: UUID, subscription_id: UUID, *, lock: bool
    ) -> WebhookSubscription | None:
        query = select(t.webhook_subscription).where(
            _s.workspace_id == workspace_id, _s.id == subscription_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return None if row is None else subscription_to_domain(row)

    async def lock_many(self, subscription_ids: Sequence[UUID]) -> list[WebhookSubscription]:
        query = select(t.webhook_subscription).where(_s.id.in_(sorted(set(subscription_ids))))
        rows = await self._conn.execute(query.order_by(_s.id).with_for_update())
        return [subscription_to_domain(r) for r in rows.mappings()]

    async def save(self, subscription: WebhookSubscription, expected_version: int) -> None:
        row = subscription_to_row(subscription)
        del row["id"], row["workspace_id"], row["created_at"]
        query = update(t.webhook_subscription).where(
            _s.id == subscription.id, _s.version == expected_version
        )
        done = await self._conn.execute(query.values(row))
        if done.rowcount == 0:
            raise VersionConflict("The webhook subscription changed meanwhile.")

    async def remove(self, subscription: WebhookSubscription) -> None:
        await self._conn.execute(delete(t.webhook_subscription).where(_s.id == subscription.id))

    async def matching(self, workspace_id: UUID, event_type: str) -> list[WebhookSubscription]:
        params = {"workspace_id": workspace_id, "patterns": patterns_matching(event_type)}
        rows = await self._conn.execute(_MATCHING, params)
        return [subscription_to_domain(r) for r in rows.mappings()]

    async def mark_healthy(self, subscription_ids: Sequence[UUID]) -> None:
        if subscription_ids:
            await self._conn.execute(_HEALTHY, {"ids": sorted(set(subscription_ids))})

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[WebhookSubscription]:
        query = select(t.webhook_subscription).where(_s.workspace_id == workspace_id)
        if page.after is not None:
            after = (page.after.created_at, page.after.id)
            query = query.where(tuple_(_s.created_at, _s.id) > after)
        query = query.order_by(_s.created_at, _s.id).limit(page.limit + 1)
        rows = (await self._conn.execute(query)).mappings().all()
        return page_of([subscription_to_domain(r) for r in rows], page.limit)


class SqlWebhookDeliveryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if deliveries:
            query = pg_insert(t.webhook_delivery).on_conflict_do_nothing(
                index_elements=["subscription_id", "event_id"]
            )
            await self._conn.execute(query, [delivery_to_row(d) for d in deliveries])

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        params = {"now": now, "limit": limit, "lease": lease_until}
        rows = await self._conn.execute(_CLAIM, params)
        claimed = [delivery_to_domain(r) for r in rows.mappings()]
        if not claimed:
            return []
        ids = {d.subscription_id for d in claimed}
        rows = await self._conn.execute(select(t.webhook_subscription).where(_s.id.in_(ids)))
        subscriptions = {r["id"]: subscription_to_domain(r) for r in rows.mappings()}
        claimed.sort(key=lambda d: (d.next_attempt_at, d.id))
        return [(d, subscriptions[d.subscription_id]) for d in claimed]

    async def get_for_update(
        self, workspace_id: UUID, subscription_id: UUID, delivery_id: UUID
    ) -> WebhookDelivery | None:
        query = select(t.webhook_delivery).where(
            _d.workspace_id == workspace_id,
            _d.subscription_id == subscription_id,
            _d.id == delivery_id,
        )
        row = (await self._conn.execute(query.with_for_update())).mappings().one_or_none()
        return None if row is None else delivery_to_domain(row)

    async def lock_many(self, delivery_ids: Sequence[UUID]) -> list[WebhookDelivery]:
        query = select(t.webhook_delivery).where(_d.id.in_(sorted(set(delivery_ids))))
        rows = await self._conn.execute(query.order_by(_d.id).with_for_update())
        return [delivery_to_domain(r) for r in rows.mappings()]

    async def save(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if deliveries:
            params = [{"_id": d.id, **_delivery_state(d)} for d in deliveries]
            await self._conn.execute(_SAVE_DELIVERY, params)

    async def list(
        self, workspace_id: UUID, subscription_id: UUID, page: PageRequest
    ) -> Page[WebhookDelivery]:
        query = select(t.webhook_delivery).where(
            _d.workspace_id == workspace_id, _d.subscription_id == subscription_id
        )
        if page.after is not None:
            before = (page.after.created_at, page.after.id)
            query = query.where(tuple_(_d.created_at, _d.id) < before)
        query = query.order_by(_d.created_at.desc(), _d.id.desc()).limit(page.limit + 1)
        rows = (await self._conn.execute(query)).mappings().all()
        return page_of([delivery_to_domain(r) for r in rows], page.limit)

    async def purge(self, before: datetime, limit: int) -> int:
        done = await self._conn.execute(_PURGE, {"before": before, "limit": limit})
        return int(done.rowcount)
