"""Idempotency keys in PostgreSQL, kept in the same transaction as the request's effects.

A claim opens a transaction and takes a transaction-scoped advisory lock on the key, so a
concurrent request with the same key is told it is in use instead of running twice. The
units of work the request opens join that transaction (as savepoints), and `complete`
writes the response next to their effects and commits once: there is never an effect
without its key, nor a key without its effect. A crash anywhere before the commit rolls
back both, and the lock goes with the connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm.adapters.postgres.engine import Turns
from crm.adapters.postgres.errors import unavailable_as_port_error
from crm.adapters.postgres.tables import idempotency_key as t
from crm.adapters.postgres.uow import joined_transaction
from crm.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from crm.ports.idempotency import (
    IN_USE_DETAIL,
    REUSED_DETAIL,
    Claim,
    IdempotencyKey,
    StoredResponse,
)
from crm.ports.system import Clock

_LOCK = select(func.pg_try_advisory_xact_lock(bindparam("lock_id")))
_SAME_KEY = and_(
    t.c.workspace_id == bindparam("workspace_id"),
    t.c.credential_id == bindparam("credential_id"),
    t.c.key == bindparam("key"),
)
_FIND = select(t.c.fingerprint, t.c.status, t.c.headers, t.c.body).where(
    _SAME_KEY, t.c.created_at > bindparam("kept_since")
)
_insert = insert(t)
_KEEP = _insert.on_conflict_do_update(
    # An expired row that was not purged yet gives way to the new response.
    index_elements=[t.c.workspace_id, t.c.credential_id, t.c.key],
    set_={
        c: _insert.excluded[c] for c in ("fingerprint", "status", "headers", "body", "created_at")
    },
)


class _PostgresClaim:
    def __init__(self, conn: AsyncConnection, key: IdempotencyKey, clock: Clock) -> None:
        self._conn, self._key, self._clock = conn, key, clock
        self.replay: StoredResponse | None = None

    async def complete(self, response: StoredResponse) -> None:
        row = {
            "workspace_id": self._key.workspace_id,
            "credential_id": self._key.credential_id,
            "key": self._key.key,
            "fingerprint": self._key.fingerprint,
            "status": response.status,
            "headers": [list(pair) for pair in response.headers],
            "body": response.body,
            "created_at": self._clock.now(),
        }
        with unavailable_as_port_error():
            await self._conn.execute(_KEEP, row)
            await self._conn.commit()


class PostgresIdempotencyStore:
    """`turns` is the write engine's turn semaphore: a claim holds one connection of its pool."""

    def __init__(
        self, engine: AsyncEngine, turns: Turns, clock: Clock, retention: timedelta
    ) -> None:
        self._engine, self._turns, self._clock, self._retention = engine, turns, clock, retention

    @asynccontextmanager
    async def claim(self, key: IdempotencyKey) -> AsyncIterator[Claim]:
        async with self._turns, self._connection() as conn:
            with unavailable_as_port_error():
                await conn.begin()
                locked = await conn.scalar(_LOCK, {"lock_id": _lock_id(key)})
            if not locked:
                raise IdempotencyKeyInUse(IN_USE_DETAIL)
            # A new statement, so a new snapshot: it sees what the lock's last holder committed.
            with unavailable_as_port_error():
                found = (await conn.execute(_FIND, self._params(key))).first()
            claim = _PostgresClaim(conn, key, self._clock)
            if found is not None:
                if found.fingerprint != key.fingerprint:
                    raise IdempotencyKeyReused(REUSED_DETAIL)
                claim.replay = _response(found.status, found.headers, found.body)
            joined = joined_transaction.set(conn)
            try:
                yield claim
            finally:
                joined_transaction.reset(joined)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        with unavailable_as_port_error():
            conn = await self._engine.connect()
        try:
            yield conn
        finally:
            # Closing rolls back whatever `complete` did not commit, and frees the lock.
            await conn.close()

    def _params(self, key: IdempotencyKey) -> dict[str, Any]:
        return {
            "workspace_id": key.workspace_id,
            "credential_id": key.credential_id,
            "key": key.key,
            "kept_since": self._clock.now() - self._retention,
        }

    async def purge(self, now: datetime) -> int:
        with unavailable_as_port_error():
            async with self._engine.begin() as conn:
                done = await conn.execute(delete(t).where(t.c.created_at <= now - self._retention))
        return done.rowcount


def _lock_id(key: IdempotencyKey) -> int:
    scope = f"{key.workspace_id}/{key.credential_id}/{key.key}".encode()
    return int.from_bytes(hashlib.blake2b(scope, digest_size=8).digest(), "big", signed=True)


def _response(status: int, headers: list[list[str]], body: bytes) -> StoredResponse:
    return StoredResponse(status, tuple((name, value) for name, value in headers), body)
