"""Bearer authentication with an in-process cache, so a hot credential costs no database
trip (and a hot Firebase ID token no signature check), and a failed one costs little."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from crm.domain.errors import DomainError, FieldError, Unauthenticated
from crm.domain.model.permissions import Caller
from crm.domain.use_cases.authenticate import UnknownApiKey
from crm.entrypoints.api.auth_throttle import Expiring, FailureThrottle
from crm.ports.credentials import CredentialChange

if TYPE_CHECKING:
    from crm.bootstrap import Container

Authenticate = Callable[[str, str | None], Awaitable[Caller]]
Client = tuple[str, int] | None


class MissingCredentials(Unauthenticated):
    code = "missing_credentials"
    title = "Authentication required"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A failed authentication as cached: each request gets a new exception from it, so no
    traceback piles up on one shared exception object."""

    kind: type[DomainError]
    detail: str
    errors: tuple[FieldError, ...]

    @classmethod
    def of(cls, error: DomainError) -> Refusal:
        return cls(type(error), error.detail, error.errors)

    def error(self) -> DomainError:
        return self.kind(self.detail, errors=self.errors)


class PrincipalCache:
    """Callers per credential and X-Workspace-ID for `ttl` seconds, dropped at once when their
    credential changes (`forget`: revoked, removed, role changed); refusals for `ttl`; unknown
    API keys for `unknown_key_ttl` whatever the header (no key ever becomes known: secrets
    are random). Failed attempts go through `throttle`; every store is bounded."""

    def __init__(
        self,
        authenticate: Authenticate,
        ttl: float,
        *,
        throttle: FailureThrottle | None = None,
        unknown_key_ttl: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authenticate, self._ttl, self._max, self._clock = (
            authenticate,
            ttl,
            max_entries,
            clock,
        )
        self._throttle, self._unknown_key_ttl = throttle, unknown_key_ttl
        self._callers: dict[bytes, tuple[float, Caller]] = {}
        self._by_actor: dict[tuple[UUID, UUID], set[bytes]] = {}
        self._refusals: Expiring[bytes, Refusal] = Expiring(max_entries)
        self._unknown_keys: Expiring[bytes, Refusal] = Expiring(max_entries)
        self._generation = 0
        """Bumped by every `forget`: a lookup that overlapped one is not cached."""

    async def caller(
        self, authorization: bytes | None, workspace: bytes | None, client: Client = None
    ) -> Caller:
        token = _bearer(authorization)
        # A newline never occurs in a header value, so "absent" and "empty" differ.
        named = token.encode() if workspace is None else token.encode() + b"\n" + workspace
        key = hashlib.sha256(named).digest()
        hit = self._callers.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return await self._resolve(key, token, workspace, "" if client is None else client[0])

    def forget(self, change: CredentialChange | None) -> None:
        """Drop the callers `change` concerns (every caller for None): their next request is
        resolved afresh."""
        self._generation += 1
        if change is None:
            self._callers.clear()
            self._by_actor.clear()
            return
        for key in self._by_actor.pop((change.workspace_id, change.actor_id), ()):
            self._callers.pop(key, None)

    def clear(self) -> None:
        self.forget(None)
        self._refusals.clear()
        self._unknown_keys.clear()

    async def _resolve(self, key: bytes, token: str, workspace: bytes | None, at: str) -> Caller:
        if self._throttle is not None:
            self._throttle.check(at)
        now = self._clock()
        outcome: Caller | Refusal | None = self._refusals.get(key, now) or self._unknown_keys.get(
            _digest(token), now
        )
        if outcome is None:
            outcome = await self._lookup(key, token, workspace)
        if isinstance(outcome, Caller):
            return outcome
        if self._throttle is not None and issubclass(outcome.kind, Unauthenticated):
            await self._throttle.failed(at)
        raise outcome.error()

    async def _lookup(self, key: bytes, token: str, workspace: bytes | None) -> Caller | Refusal:
        generation = self._generation
        named = None if workspace is None else workspace.decode("latin-1")
        try:
            caller = await self._authenticate(token, named)
        except DomainError as failure:
            if type(failure).__init__ is not DomainError.__init__:
                raise  # cannot be rebuilt from detail and errors alone: not cached
            refusal = Refusal.of(failure)
            if isinstance(failure, UnknownApiKey) and self._unknown_key_ttl > 0:
                until = self._clock() + self._unknown_key_ttl
                self._unknown_keys.put(_digest(token), refusal, until)
            elif self._ttl > 0:
                self._refusals.put(key, refusal, self._clock() + self._ttl)
            return refusal
        if self._ttl > 0 and generation == self._generation:
            self._remember(key, caller)
        return caller

    def _remember(self, key: bytes, caller: Caller) -> None:
        if len(self._callers) >= self._max:
            self.forget(None)
        self._callers[key] = (self._clock() + self._ttl, caller)
        if (p := caller.principal) is not None:
            self._by_actor.setdefault((p.workspace_id, p.actor_id), set()).add(key)


def principal_cache(container: Container) -> PrincipalCache:
    """The cache the gateway authenticates with, told of every credential change."""
    settings = container.settings
    cache = PrincipalCache(
        container.authenticate.execute,
        settings.auth_cache_ttl_seconds,
        throttle=FailureThrottle(container.auth_failures, settings.auth_failure_limit),
        unknown_key_ttl=settings.auth_unknown_key_ttl_seconds,
    )
    container.credentials.subscribe(cache.forget)
    return cache


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _bearer(authorization: bytes | None) -> str:
    if not authorization:
        raise MissingCredentials("Send `Authorization: Bearer <API key or Firebase ID token>`.")
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials("Use the Bearer scheme: `Authorization: Bearer <token>`.")
    return token.strip()
