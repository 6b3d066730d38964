"""/v1/webhook-subscriptions: where the workspace's events are POSTed, and their delivery log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.model.webhook_deliveries import WebhookDelivery
from crm.domain.model.webhooks import WebhookSubscription
from crm.domain.pagination import PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.webhook_subscriptions import UpdateWebhookSubscriptionCommand
from crm.entrypoints.api.deps import ETAG, IfMatch, parse_if_match, principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import webhooks as s
from crm.entrypoints.api.views import json_response, page_of, versioned_response

BASE = "/v1/webhook-subscriptions"
ONE = "/{subscription_id}"


def subscription_dict(w: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": w.id,
        "url": w.url,
        "event_types": list(w.event_types),
        "fields": None if w.fields is None else list(w.fields),
        "description": w.description,
        "enabled": w.enabled,
        "disabled_reason": w.disabled_reason,
        "disabled_at": w.disabled_at,
        "failing_since": w.failing_since,
        "previous_secret_expires_at": w.previous_secret_expires_at,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
        "version": w.version,
    }


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status.value,
        "attempts": d.attempts,
        "status_code": d.status_code,
        "latency_ms": d.latency_ms,
        "error": d.error,
        "last_attempt_at": d.last_attempt_at,
        "next_attempt_at": d.next_attempt_at,
        "give_up_at": d.give_up_at,
        "created_at": d.created_at,
    }


def _one(w: WebhookSubscription, status: int = 200, secret: str | None = None) -> Response:
    body = subscription_dict(w) if secret is None else {**subscription_dict(w), "secret": secret}
    return versioned_response(body, w.version, status, f"{BASE}/{w.id}" if status == 201 else None)


def _newest_first(limit: int, cursor: str | None) -> PageRequest:
    order = SortOrder.NEWEST_FIRST
    return PageRequest(limit, None if cursor is None else decode_cursor(cursor, order), order)


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix=BASE, tags=["webhooks"], route_class=LeanRoute)
    hooks = c.webhooks
    versioned = {"description": "The subscription", "headers": ETAG}

    @r.post(
        "",
        status_code=201,
        response_model=s.WebhookSubscriptionWithSecret,
        operation_id="createWebhookSubscription",
        summary="Subscribe a URL to events",
        description=hooks.create.__doc__,
        responses={**problems(400, 409, 413, 415, 422), 201: versioned},
    )
    async def create_webhook_subscription(
        body: s.WebhookSubscriptionCreate, request: Request
    ) -> Response:
        raw = body.model_dump(exclude_unset=True)
        made, secret = await hooks.create.execute(principal(request), raw)
        return _one(made, 201, secret)

    @r.get(
        "",
        response_model=s.WebhookSubscriptionPage,
        operation_id="listWebhookSubscriptions",
        summary="List webhook subscriptions",
        description=hooks.list_all.__doc__,
        responses=problems(422),
    )
    async def list_webhook_subscriptions(
        request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await hooks.list_all.execute(principal(request), page_request(limit, cursor))
        return page_of(page, subscription_dict)

    @r.get(
        ONE,
        response_model=s.WebhookSubscription,
        operation_id="getWebhookSubscription",
        summary="Get a webhook subscription",
        description=hooks.get.__doc__,
        responses={**problems(404, 422), 200: versioned},
    )
    async def get_webhook_subscription(subscription_id: UUID, request: Request) -> Response:
        return _one(await hooks.get.execute(principal(request), subscription_id))

    @r.patch(
        ONE,
        response_model=s.WebhookSubscription,
        operation_id="updateWebhookSubscription",
        summary="Change, pause or resume a webhook subscription",
        description=hooks.update.__doc__,
        responses={**problems(400, 404, 412, 413, 415, 422), 200: versioned},
    )
    async def update_webhook_subscription(
        subscription_id: UUID,
        body: s.WebhookSubscriptionUpdate,
        request: Request,
        if_match: IfMatch = None,
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)
        cmd = UpdateWebhookSubscriptionCommand(
            principal(request), subscription_id, changes, parse_if_match(if_match)
        )
        return _one(await hooks.update.execute(cmd))

    @r.delete(
        ONE,
        status_code=204,
        operation_id="deleteWebhookSubscription",
        summary="Delete a webhook subscription",
        description=hooks.delete.__doc__,
        responses=problems(400, 404, 412, 422),
    )
    async def delete_webhook_subscription(
        subscription_id: UUID, request: Request, if_match: IfMatch = None
    ) -> Response:
        await hooks.delete.execute(principal(request), subscription_id, parse_if_match(if_match))
        return Response(status_code=204)

    @r.post(
        ONE + "/rotate-secret",
        response_model=s.WebhookSubscriptionWithSecret,
        operation_id="rotateWebhookSecret",
        summary="Rotate a webhook subscription's signing secret",
        description=hooks.rotate_secret.__doc__,
        responses={**problems(404, 409, 422), 200: versioned},
    )
    async def rotate_webhook_secret(subscription_id: UUID, request: Request) -> Response:
        done, secret = await hooks.rotate_secret.execute(principal(request), subscription_id)
        return _one(done, 200, secret)

    @r.post(
        ONE + "/test",
        status_code=202,
        response_model=s.WebhookDelivery,
        operation_id="testWebhookSubscription",
        summary="Send a test ping",
        description=hooks.ping.__doc__,
        responses=problems(404, 409, 422),
    )
    async def test_webhook_subscription(subscription_id: UUID, request: Request) -> Response:
        delivery = await hooks.ping.execute(principal(request), subscription_id)
        return json_response(delivery_dict(delivery), 202)

    @r.get(
        ONE + "/deliveries",
        response_model=s.WebhookDeliveryPage,
        operation_id="listWebhookDeliveries",
        summary="List a subscription's deliveries (newest first)",
        description=hooks.list_deliveries.__doc__,
        responses=problems(404, 422),
    )
    async def list_webhook_deliveries(
        subscription_id: UUID, request: Request, limit: Limit = 50, cursor: Cursor = None
    ) -> Response:
        page = await hooks.list_deliveries.execute(
            principal(request), subscription_id, _newest_first(limit, cursor)
        )
        return page_of(page, delivery_dict, SortOrder.NEWEST_FIRST)

    @r.post(
        ONE + "/deliveries/{delivery_id}/retry",
        status_code=202,
        response_model=s.WebhookDelivery,
        operation_id="retryWebhookDelivery",
        summary="Send a delivery again now",
        description=hooks.retry_delivery.__doc__,
        responses=problems(404, 409, 422),
    )
    async def retry_webhook_delivery(
        subscription_id: UUID, delivery_id: UUID, request: Request
    ) -> Response:
        p = principal(request)
        delivery = await hooks.retry_delivery.execute(p, subscription_id, delivery_id)
        return json_response(delivery_dict(delivery), 202)

    return r
