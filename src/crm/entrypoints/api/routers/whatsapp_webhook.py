"""/v1/webhooks/whatsapp: where Meta sends WhatsApp Business notifications (no API key: the
verify token and the body's signature authenticate Meta)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse

from crm.bootstrap import Container
from crm.entrypoints.api.deps import problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.views import json_response

PATH = "/v1/webhooks/whatsapp"
_SIGNATURE = (
    "`sha256=` and the hex HMAC-SHA256 of the raw body, keyed with the Meta app's secret "
    "(CRM_WHATSAPP_APP_SECRET)"
)


def _ref(name: str) -> dict[str, Any]:
    return {"schema": {"$ref": f"#/components/schemas/{name}"}}


def build(c: Container) -> APIRouter:
    r = APIRouter(tags=["conversations"], route_class=LeanRoute)
    receive = c.conversations.receive

    @r.get(
        PATH,
        response_class=Response,
        operation_id="verifyWhatsAppWebhook",
        summary="Meta's verification handshake",
        description=(
            "Meta calls this once when the webhook is configured: with `hub.mode=subscribe` "
            "and the verify token set in both places (CRM_WHATSAPP_VERIFY_TOKEN), the answer "
            "is `hub.challenge`, as plain text. No API key."
        ),
        responses={
            200: {
                "description": "The challenge",
                "content": {"text/plain": _ref("WhatsAppChallenge")},
            },
            **problems(403, 422, 503),
        },
    )
    async def verify_whatsapp_webhook(
        mode: Annotated[str | None, Query(alias="hub.mode", max_length=64)] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token", max_length=512)] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=512)] = None,
    ) -> Response:
        return PlainTextResponse(receive.handshake(mode, token, challenge))

    @r.post(
        PATH,
        operation_id="receiveWhatsAppNotification",
        summary="Receive a WhatsApp Business notification",
        description=(
            "Meta posts customers' messages and the delivery statuses of replies here. The "
            "signature is checked (`401 invalid_signature`, nothing kept), the body read "
            "(`400 malformed_whatsapp_notification`), and the notification queued: the answer "
            "comes at once and the worker applies it (a repeated delivery changes nothing). "
            "Numbers no workspace connects are dropped by the worker. No API key."
        ),
        responses={
            200: {
                "description": "Queued: how many queue messages it took (0: nothing to apply)",
                "content": {"application/json": _ref("WhatsAppReceipt")},
            },
            **problems(400, 401, 413, 415, 422, 503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": _ref("WhatsAppNotification")},
            },
        },
    )
    async def receive_whatsapp_notification(
        request: Request,
        signature: Annotated[
            str | None, Header(alias="X-Hub-Signature-256", max_length=256, description=_SIGNATURE)
        ] = None,
    ) -> Response:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(415, "Meta sends notifications as application/json.")
        queued = await receive.execute(await request.body(), signature)
        return json_response({"queued": queued})

    return r
