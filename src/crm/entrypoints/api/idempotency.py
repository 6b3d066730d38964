"""`Idempotency-Key` on every POST, for every route, in one pure ASGI middleware.

Stripe's semantics: the key is scoped to the workspace and the credential; the request's
fingerprint is its method, path (with query) and body. The first successful (2xx) response
is kept with the request's effects in one transaction and replayed for the same key and
fingerprint within the retention period, with `Idempotent-Replayed: true`. The same key
with another fingerprint is a 422 problem; while the first request runs, a 409 problem.
Error responses are not kept: nothing was done, so a retry runs again.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm.domain.errors import DomainError, PortError
from crm.domain.model.permissions import Caller
from crm.entrypoints.api.errors import HTTP_CODES, status_of, unavailable_problem
from crm.entrypoints.api.gateway import CALLER_KEY
from crm.entrypoints.api.problems import problem_response
from crm.ports.idempotency import IdempotencyKey, IdempotencyStore, StoredResponse

log = logging.getLogger("crm.api")
HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
# What a replay repeats of the first response; the rest (request id, rate limit) is per request.
NO_WORKSPACE = UUID(int=0)
KEPT_HEADERS = frozenset({"content-type", "content-disposition", "location", "etag"})


class Idempotency:
    def __init__(self, app: ASGIApp, *, store: IdempotencyStore) -> None:
        self.app, self.store = app, store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope["headers"] if k == HEADER), None)
        caller = scope.get(CALLER_KEY)
        if raw_key is None or not isinstance(caller, Caller):
            await self.app(scope, receive, send)
            return
        key = _valid_key(raw_key)
        if key is None:
            await _invalid_key(scope)(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as e:
            code, title = HTTP_CODES.get(e.status_code, ("malformed_request", "Bad request"))
            await problem_response(scope, e.status_code, code, title, str(e.detail))(
                scope, receive, send
            )
            return
        # A person acting outside any workspace (creating one, accepting an invitation)
        # keeps their keys under the nil workspace.
        workspace_id = NO_WORKSPACE if caller.principal is None else caller.principal.workspace_id
        claim_key = IdempotencyKey(workspace_id, caller.actor_id, key, _fingerprint(scope, body))
        await self._claimed(scope, _replaying(body, receive), send, claim_key)

    async def _claimed(
        self, scope: Scope, receive: Receive, send: Send, key: IdempotencyKey
    ) -> None:
        try:
            async with self.store.claim(key) as claim:
                if claim.replay is not None:
                    await _replay(claim.replay, send)
                    return
                response = _Recorder()
                await self.app(scope, receive, response.record)
                if 200 <= response.status < 300:
                    await claim.complete(response.stored())
        except DomainError as e:
            headers = {"Retry-After": "1"} if status_of(e) == 409 else None
            await problem_response(scope, status_of(e), e.code, e.title, e.detail, headers=headers)(
                scope, receive, send
            )
            return
        except PortError as e:
            log.warning("idempotency store unavailable", exc_info=True)
            await unavailable_problem(scope, e)(scope, receive, send)
            return
        await response.replay_to(send)


class _Recorder:
    """Holds the response back until its key is committed: the client never sees a success
    whose effects could still be rolled back."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 0

    async def record(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        self.messages.append(message)

    def stored(self) -> StoredResponse:
        start, headers = self.messages[0], []
        for name, value in start.get("headers", ()):
            if name.decode().lower() in KEPT_HEADERS:
                headers.append((name.decode().lower(), value.decode("latin-1")))
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        return StoredResponse(self.status, tuple(headers), body)

    async def replay_to(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def _replay(stored: StoredResponse, send: Send) -> None:
    headers = [(name.encode(), value.encode("latin-1")) for name, value in stored.headers]
    headers += [
        (b"content-length", str(len(stored.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


def _valid_key(raw: bytes) -> str | None:
    """1 to 255 visible ASCII characters (a UUID is the usual choice)."""
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(0x20 < b < 0x7F for b in raw):
        return None
    return raw.decode("ascii")


def _invalid_key(scope: Scope) -> ASGIApp:
    return problem_response(
        scope,
        400,
        "invalid_idempotency_key",
        "The Idempotency-Key header is not valid",
        f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID.",
        errors=[
            {
                "field": "Idempotency-Key",
                "source": "header",
                "code": "invalid_idempotency_key",
                "message": f"1 to {MAX_KEY_LENGTH} visible ASCII characters",
            }
        ],
    )


def _fingerprint(scope: Scope, body: bytes) -> bytes:
    digest = hashlib.sha256()
    parts = (scope["method"].encode(), scope["path"].encode(), scope["query_string"])
    for part in (*parts, _without_boundary(scope, body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def _without_boundary(scope: Scope, body: bytes) -> bytes:
    """A multipart body with its boundary blanked out: clients draw a new boundary on every
    try, and a retry of the same upload must still be the same request."""
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    media, _, params = content_type.partition(b";")
    if media.strip().lower() != b"multipart/form-data":
        return body
    for param in params.split(b";"):
        name, _, value = param.strip().partition(b"=")
        if name.lower() == b"boundary" and value.strip(b'"'):
            return body.replace(b"--" + value.strip(b'"'), b"--")
    return body


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body, read once up front, handed to the app as if it arrived now."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
        return message

    return again
