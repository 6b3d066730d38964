"""Bearer authentication with an in-process TTL cache, so a hot credential costs no database
trip (and a hot Firebase ID token no signature check)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

from crm.domain.errors import DomainError, Unauthenticated
from crm.domain.model.permissions import Caller

Authenticate = Callable[[str, str | None], Awaitable[Caller]]


class MissingCredentials(Unauthenticated):
    code = "missing_credentials"
    title = "Authentication required"


class PrincipalCache:
    """Caches both outcomes per credential and X-Workspace-ID for `ttl` seconds; revocation,
    removal from a workspace and role changes take effect within that time."""

    def __init__(
        self,
        authenticate: Authenticate,
        ttl: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authenticate, self._ttl, self._max, self._clock = (
            authenticate,
            ttl,
            max_entries,
            clock,
        )
        self._entries: dict[bytes, tuple[float, Caller | DomainError]] = {}

    async def caller(self, authorization: bytes | None, workspace: bytes | None) -> Caller:
        token = _bearer(authorization)
        named = None if workspace is None else workspace.decode("latin-1")
        key = hashlib.sha256(token.encode() + b"\0" + (workspace or b"")).digest()
        now = self._clock()
        hit = self._entries.get(key)
        if hit is None or hit[0] <= now:
            hit = (now + self._ttl, await self._lookup(token, named))
            if self._ttl > 0:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[key] = hit
        if isinstance(hit[1], DomainError):
            raise hit[1]
        return hit[1]

    def clear(self) -> None:
        self._entries.clear()

    async def _lookup(self, token: str, workspace: str | None) -> Caller | DomainError:
        try:
            return await self._authenticate(token, workspace)
        except DomainError as failure:
            return failure


def _bearer(authorization: bytes | None) -> str:
    if not authorization:
        raise MissingCredentials("Send `Authorization: Bearer <API key or Firebase ID token>`.")
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials("Use the Bearer scheme: `Authorization: Bearer <token>`.")
    return token.strip()
