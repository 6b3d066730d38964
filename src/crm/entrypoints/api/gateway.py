"""Pure ASGI middleware for the cross-cutting work of every request, in one pass.

Request id, security headers, body-size limit, authentication and rate limiting live here
rather than in `Depends` chains, which cost as much as the work itself on the hot path.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm.domain.errors import DomainError, PortError
from crm.entrypoints.api.auth import PrincipalCache
from crm.entrypoints.api.auth_throttle import TooManyFailedAttempts
from crm.entrypoints.api.errors import internal_error, status_of, unavailable_problem
from crm.entrypoints.api.logs import request_id_var
from crm.entrypoints.api.problems import REQUEST_ID_KEY, problem_response
from crm.ports.rate_limiter import RateLimitDecision, RateLimiter

log = logging.getLogger("crm.api")
PRINCIPAL_KEY = "crm.principal"
CALLER_KEY = "crm.caller"
PUBLIC_PATHS = frozenset(
    {"/", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/v1/webhooks/whatsapp"}
)
"""Served without an API key: the docs, health, and webhooks whose senders sign instead."""
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# Deliberately not sent: `Cache-Control: no-store` (responses to requests with Authorization
# are not stored by shared caches, and without Last-Modified no cache may guess a freshness)
# and a CSP (JSON served as application/json with nosniff never runs as a page). Each header
# costs ~4 µs of CPU per request in uvicorn: measured, 0.76 -> 0.74 of raw on GET by id.
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class Gateway:
    """`wrap_posts` adds what only POSTs need (idempotency) around the app for them alone,
    so reads do not pass through another middleware layer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: PrincipalCache,
        limiter: RateLimiter,
        max_body_bytes: int,
        wrap_posts: Callable[[ASGIApp], ASGIApp] | None = None,
        body_limits: Mapping[str, int] | None = None,
        misrouted: Callable[[Scope], ASGIApp | None] = lambda _: None,
    ) -> None:
        self.app, self.auth, self.limiter, self.max_body = app, auth, limiter, max_body_bytes
        # Asked only before a refusal: a method the path does not take is a 405 for anyone.
        self.misrouted = misrouted
        # Paths that take larger bodies than JSON routes (file uploads), with their own limit.
        self.body_limits = dict(body_limits or {})
        self.post_app = app if wrap_posts is None else wrap_posts(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = request_id_from(headers.get(b"x-request-id"))
        scope[REQUEST_ID_KEY] = request_id
        request_id_var.set(request_id)
        path = scope["path"]
        extra = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        refusal = self._refuse_body(scope, headers)
        if refusal is None and not _is_public(path):
            refusal = await self._admit(scope, headers, extra)
        if refusal is not None:
            refusal = self.misrouted(scope) or refusal
            await refusal(scope, receive, send_with_headers)
            return
        app = self.post_app if scope["method"] == "POST" else self.app
        try:
            await app(scope, self._limited(scope, receive, headers), send_with_headers)
        except Exception:
            # Answer here rather than in Starlette's outer error middleware, so even a
            # 500 carries the request id and security headers.
            log.exception("unhandled error in request %s", request_id)
            if started:
                raise
            await internal_error(scope)(scope, receive, send_with_headers)

    def _limit(self, path: str) -> int:
        """A path's own limit, or its prefix's (a key ending in `/`), else the JSON one."""
        found = self.body_limits.get(path)
        if found is not None:
            return found
        prefixed = (
            n for p, n in self.body_limits.items() if p.endswith("/") and path.startswith(p)
        )
        return next(prefixed, self.max_body)

    def _refuse_body(self, scope: Scope, headers: dict[bytes, bytes]) -> ASGIApp | None:
        length = headers.get(b"content-length")
        limit = self._limit(scope["path"])
        if length is None or not length.isdigit() or int(length) <= limit:
            return None
        return _too_large(scope, limit)

    def _limited(self, scope: Scope, receive: Receive, headers: dict[bytes, bytes]) -> Receive:
        """Count streamed (chunked) bodies, which announce no length up front."""
        if b"content-length" in headers or scope["method"] in _BODYLESS:
            return receive
        seen = 0
        limit = self._limit(scope["path"])

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"The body exceeds {limit} bytes.")
            return message

        return counted

    async def _admit(
        self, scope: Scope, headers: dict[bytes, bytes], extra: list[tuple[bytes, bytes]]
    ) -> ASGIApp | None:
        try:
            caller = await self.auth.caller(
                headers.get(b"authorization"), headers.get(b"x-workspace-id"), scope.get("client")
            )
        except DomainError as e:
            return _refused(scope, e)
        except TooManyFailedAttempts as e:
            return _throttled(scope, e)
        except PortError as e:
            return unavailable_problem(scope, e)
        scope[CALLER_KEY] = caller
        if caller.principal is not None:
            scope[PRINCIPAL_KEY] = caller.principal
        decision = await self.limiter.acquire(str(caller.actor_id))
        if not decision.degraded:
            extra.extend(_rate_headers(decision))
        if decision.allowed:
            return None
        return problem_response(
            scope,
            429,
            "rate_limited",
            "Too many requests",
            f"The limit is {decision.limit} requests per window; retry after the reset.",
            headers={"Retry-After": str(max(1, math.ceil(decision.reset_after)))},
        )


def _refused(scope: Scope, e: DomainError) -> ASGIApp:
    status = status_of(e)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    errors = [
        {"field": f.field, "source": "header", "code": f.code, "message": f.message}
        for f in e.errors
    ]
    return problem_response(
        scope, status, e.code, e.title, e.detail, errors=errors, headers=headers
    )


def _throttled(scope: Scope, e: TooManyFailedAttempts) -> ASGIApp:
    return problem_response(
        scope,
        429,
        "too_many_failed_attempts",
        "Too many failed authentications",
        f"More than {e.limit} requests from this address failed to authenticate within a "
        "minute; until the retry time, only credentials this service verified recently are "
        "accepted from it.",
        headers={"Retry-After": str(max(1, math.ceil(e.retry_after)))},
    )


PUBLIC_PREFIXES = ("/docs/", "/v1/files/")
"""Swagger UI's files, and the local file store's links (the signed token is the credential)."""


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def request_id_from(given: bytes | None) -> str:
    """The caller's X-Request-ID when it is well formed, else a new one."""
    if given is not None and _REQUEST_ID.match(given):
        return given.decode()
    return _random_hex(16)


_ENTROPY = bytearray()


def _random_hex(size: int) -> str:
    """`os.urandom(size).hex()`, from 4 KiB read at a time: the system call is the dearer
    part of a request id here (about a tenth of a GET's CPU when made per request)."""
    if len(_ENTROPY) < size:
        _ENTROPY[:] = os.urandom(4096)
    taken = _ENTROPY[-size:]
    del _ENTROPY[-size:]
    return taken.hex()


os.register_at_fork(after_in_child=_ENTROPY.clear)  # a child never repeats its parent's ids


def _rate_headers(decision: RateLimitDecision) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(math.ceil(decision.reset_after)).encode()),
    ]


def _too_large(scope: Scope, limit: int) -> ASGIApp:
    return problem_response(
        scope,
        413,
        "payload_too_large",
        "The request body is too large",
        f"Bodies are limited to {limit} bytes.",
    )
