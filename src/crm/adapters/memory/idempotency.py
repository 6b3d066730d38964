"""Idempotency keys in process, for unit tests and single-process runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from crm.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from crm.ports.idempotency import (
    IN_USE_DETAIL,
    REUSED_DETAIL,
    Claim,
    IdempotencyKey,
    StoredResponse,
)
from crm.ports.system import Clock

_Scope = tuple[UUID, UUID, str]


@dataclass(slots=True)
class _Kept:
    fingerprint: bytes
    response: StoredResponse
    created_at: datetime


class _MemoryClaim:
    def __init__(self, store: InMemoryIdempotencyStore, key: IdempotencyKey) -> None:
        self._store, self._key = store, key
        self.replay: StoredResponse | None = None

    async def complete(self, response: StoredResponse) -> None:
        kept = _Kept(self._key.fingerprint, response, self._store.clock.now())
        self._store.kept[_scope(self._key)] = kept


class InMemoryIdempotencyStore:
    """Effects of the memory units of work commit on their own: there is no shared
    transaction to join, so a crash between effect and `complete` is not covered here."""

    def __init__(self, clock: Clock, retention: timedelta) -> None:
        self.clock, self.retention = clock, retention
        self.kept: dict[_Scope, _Kept] = {}
        self._running: set[_Scope] = set()

    @asynccontextmanager
    async def claim(self, key: IdempotencyKey) -> AsyncIterator[Claim]:
        scope = _scope(key)
        if scope in self._running:
            raise IdempotencyKeyInUse(IN_USE_DETAIL)
        claim = _MemoryClaim(self, key)
        kept = self.kept.get(scope)
        if kept is not None and kept.created_at > self.clock.now() - self.retention:
            if kept.fingerprint != key.fingerprint:
                raise IdempotencyKeyReused(REUSED_DETAIL)
            claim.replay = kept.response
        self._running.add(scope)
        try:
            yield claim
        finally:
            self._running.discard(scope)

    async def purge(self, now: datetime) -> int:
        expired = [s for s, kept in self.kept.items() if kept.created_at <= now - self.retention]
        for scope in expired:
            del self.kept[scope]
        return len(expired)


def _scope(key: IdempotencyKey) -> _Scope:
    return key.workspace_id, key.credential_id, key.key
