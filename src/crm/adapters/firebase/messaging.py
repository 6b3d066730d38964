"""Firebase Cloud Messaging as the PushSender: the Admin SDK (sync), run off the event loop."""

from __future__ import annotations

import asyncio
import logging
import uuid
import warnings
from collections.abc import Sequence
from typing import Any

import firebase_admin
import google.auth.credentials
import google.auth.transport
import requests.adapters
from firebase_admin import _http_client, credentials, exceptions, messaging

from crm.domain.errors import DeliveryRejected, ServiceUnavailable
from crm.domain.model.push import PushMessage, PushOutcome

log = logging.getLogger("crm.push")

FCM_PATH = "/v1/projects/{0}/messages:send"
HTTP_TIMEOUT_SECONDS = 10
MAX_MULTICAST = 100
"""Tokens per multicast; the SDK sends each on a thread of its own."""

# A token FCM will never deliver to again: uninstalled (UNREGISTERED), another project's
# (SENDER_ID_MISMATCH) or not a token at all (INVALID_ARGUMENT; our messages are built from
# bounded fields, so the token is what it refuses).
_DEAD = (
    messaging.UnregisteredError,
    messaging.SenderIdMismatchError,
    exceptions.InvalidArgumentError,
)


class _StaticToken(google.auth.credentials.Credentials):
    """An OAuth token that never refreshes, for an FCM stand-in (CRM_FCM_URL): no Google."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.token = "crm-local-fcm"  # noqa: S105 - no secret: only a local stand-in sees it

    def refresh(self, request: google.auth.transport.Request) -> None:
        """Nothing to fetch: the token is static."""


class FirebasePushSender:
    """Sends through `send_each_for_multicast`; `fcm_url` (tests, local runs) points the SDK
    at another host, with a static token instead of Google credentials."""

    def __init__(
        self,
        project_id: str,
        *,
        credentials_file: str | None = None,
        fcm_url: str | None = None,
        timeout_seconds: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._app = firebase_admin.initialize_app(
            _credential(credentials_file, fcm_url),
            {"projectId": project_id, "httpTimeout": timeout_seconds},
            name=f"crm-push-{uuid.uuid4().hex}",
        )
        if fcm_url is not None:
            _point_at(messaging._get_messaging_service(self._app), fcm_url, project_id)
        self._closed = False

    async def send(self, tokens: Sequence[str], message: PushMessage) -> PushOutcome:
        """Send `message` to each token; dead and unreached tokens in the outcome."""
        outcomes = [
            await asyncio.to_thread(self._send_sync, list(tokens[i : i + MAX_MULTICAST]), message)
            for i in range(0, len(tokens), MAX_MULTICAST)
        ]
        return PushOutcome(
            sum(o.delivered for o in outcomes),
            frozenset().union(*(o.dead for o in outcomes)),
            frozenset().union(*(o.failed for o in outcomes)),
        )

    def _send_sync(self, tokens: list[str], message: PushMessage) -> PushOutcome:
        try:
            batch = messaging.send_each_for_multicast(_multicast(tokens, message), app=self._app)
        except exceptions.FirebaseError as e:
            raise ServiceUnavailable("Firebase Cloud Messaging could not be reached.") from e
        except ValueError as e:  # the SDK refusing the message before sending it
            raise DeliveryRejected(f"FCM refused the message: {e}") from e
        dead: set[str] = set()
        failed: set[str] = set()
        for token, response in zip(tokens, batch.responses, strict=True):
            error = response.exception
            if error is None:
                continue
            if isinstance(error, _DEAD):
                dead.add(token)
            else:
                log.warning("push to a device failed: %s", _described(error))
                failed.add(token)
        return PushOutcome(batch.success_count, frozenset(dead), frozenset(failed))

    async def close(self) -> None:
        """Delete this sender's Firebase app; the sender is unusable afterwards."""
        if not self._closed:
            self._closed = True
            # Its messaging service closes an async HTTP client with asyncio.run: off the loop.
            await asyncio.to_thread(firebase_admin.delete_app, self._app)


def _point_at(service: Any, fcm_url: str, project_id: str) -> None:
    """The SDK has no option for another host: its service reads this URL, built once per
    app, and pools connections (100, retrying like for FCM) for the FCM host alone."""
    base = fcm_url.rstrip("/")
    service._fcm_url = base + FCM_PATH.format(project_id)
    pool = requests.adapters.HTTPAdapter(
        pool_connections=MAX_MULTICAST,
        pool_maxsize=MAX_MULTICAST,
        max_retries=_http_client.DEFAULT_RETRY_CONFIG,
    )
    service._client.session.mount(base, pool)


def _multicast(tokens: list[str], message: PushMessage) -> messaging.MulticastMessage:
    tag = message.tag
    with warnings.catch_warnings():
        # firebase-admin 7 deprecates registration tokens for installation ids (fids); the
        # apps register tokens, which FCM still takes. The SDK silences this itself too.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _build(tokens, message, tag)


def _build(tokens: list[str], message: PushMessage, tag: str | None) -> messaging.MulticastMessage:
    return messaging.MulticastMessage(
        tokens=tokens,
        notification=messaging.Notification(title=message.title, body=message.body),
        data=dict(message.data),
        android=messaging.AndroidConfig(
            priority="high", notification=messaging.AndroidNotification(tag=tag)
        ),
        apns=messaging.APNSConfig(
            headers={"apns-collapse-id": tag[:64]} if tag else None,
            payload=messaging.APNSPayload(
                aps=messaging.Aps(sound="default", thread_id=message.kind.value)
            ),
        ),
    )


def _described(error: exceptions.FirebaseError) -> str:
    """The error's class and code, never the token (it addresses a person's phone)."""
    return f"{type(error).__name__} ({error.code})"


def _credential(credentials_file: str | None, fcm_url: str | None) -> Any:
    if fcm_url is not None:
        return _StaticToken()
    if credentials_file is not None:
        return credentials.Certificate(credentials_file)
    return credentials.ApplicationDefault()
