"""Bearer authentication with an in-process TTL cache, so a hot key costs no database trip."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

from crm.domain.errors import Unauthenticated
from crm.domain.model.workspace import Principal

Authenticate = Callable[[str], Awaitable[Principal]]


class MissingCredentials(Unauthenticated):
    code = "missing_credentials"
    title = "Authentication required"


class PrincipalCache:
    """Caches both outcomes for `ttl` seconds; revocation takes effect within that time."""

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
        self._entries: dict[bytes, tuple[float, Principal | Unauthenticated]] = {}

    async def principal(self, authorization: bytes | None) -> Principal:
        token = _bearer(authorization)
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        hit = self._entries.get(key)
        if hit is None or hit[0] <= now:
            hit = (now + self._ttl, await self._lookup(token))
            if self._ttl > 0:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[key] = hit
        if isinstance(hit[1], Unauthenticated):
            raise hit[1]
        return hit[1]

    def clear(self) -> None:
        self._entries.clear()

    async def _lookup(self, token: str) -> Principal | Unauthenticated:
        try:
            return await self._authenticate(token)
        except Unauthenticated as failure:
            return failure


def _bearer(authorization: bytes | None) -> str:
    if not authorization:
        raise MissingCredentials("Send `Authorization: Bearer <API key>`.")
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials("Use the Bearer scheme: `Authorization: Bearer <API key>`.")
    return token.strip()
