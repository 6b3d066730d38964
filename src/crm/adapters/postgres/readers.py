"""Hot-path reads straight on an asyncpg pool: one prepared statement, one round trip."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from crm.adapters.postgres.custom_fields import tag_filter_sql, visible_custom_fields
from crm.adapters.postgres.engine import DatabaseTimeouts, Turns
from crm.adapters.postgres.errors import connection_lost, database_unavailable, is_unavailable
from crm.adapters.postgres.mapping import (
    API_KEY_COLUMNS,
    CONTACT_COLUMNS,
    api_key_to_domain,
    contact_to_domain,
)
from crm.domain.errors import DatabaseUnavailable
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.workspace import ApiKey
from crm.domain.pagination import Page, PageRequest, Position, SortOrder

log = logging.getLogger("crm.postgres")

# The SQL below is assembled from constants only (column lists, operators); values are bound.
# Values of archived custom fields stay stored but are cut out in the same statement.
_VISIBLE_CONTACT_COLUMNS = CONTACT_COLUMNS.replace(
    "custom_fields", visible_custom_fields("contact", ObjectType.CONTACT)
)
_GET_CONTACT = f"SELECT {_VISIBLE_CONTACT_COLUMNS} FROM contact WHERE workspace_id = $1 AND id = $2"  # noqa: S608
_LIST = {
    (order, keyset, tagged): f"SELECT {_VISIBLE_CONTACT_COLUMNS} FROM contact"  # noqa: S608
    + " WHERE workspace_id = $1"
    + (f" AND (created_at, id) {op} ($3, $4)" if keyset else "")
    + (" AND " + tag_filter_sql("contact", 5 if keyset else 3) if tagged else "")
    + f" ORDER BY created_at {direction}, id {direction} LIMIT $2"
    for order, op, direction in (
        (SortOrder.NEWEST_FIRST, "<", "DESC"),
        (SortOrder.OLDEST_FIRST, ">", "ASC"),
    )
    for keyset in (False, True)
    for tagged in (False, True)
}
_API_KEY_BY_HASH = f"SELECT {API_KEY_COLUMNS} FROM api_key WHERE secret_hash = $1"  # noqa: S608
_TOUCH_API_KEY = "UPDATE api_key SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL"


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _nothing_to_reset(_: asyncpg.Connection) -> None:
    """Readers run single statements and never touch session state (no SET, LISTEN, cursors
    or advisory locks), so the default `RESET ALL; UNLISTEN *; ...` on every release would
    only add a second round trip to each read. asyncpg still rolls back any open transaction.
    """


class ReadPool:
    """The asyncpg pool the readers share; opened by the application's lifespan."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        timeouts: DatabaseTimeouts | None = None,
    ) -> None:
        self._dsn, self._min, self._max = dsn, min_size, max_size
        self._timeouts = timeouts or DatabaseTimeouts()
        self._pool: asyncpg.Pool | None = None
        # asyncpg's pool lets a newcomer take a just-released connection ahead of the
        # queries already waiting, and under load some of those wait many turns (a p99 several
        # times the p50). Queries queue here instead, first come first served, and the pool
        # itself never has a waiter.
        self._turns = Turns(max_size, self._timeouts.pool)

    async def open(self) -> None:
        """Create the pool without connecting, so the service starts (and `/readyz` can say
        which dependency is down) while the database is unreachable; then warm it up."""
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._max,
            init=_init_connection,
            reset=_nothing_to_reset,
            **self._timeouts.asyncpg_connect_args(),
        )
        try:
            held = [await self._pool.acquire() for _ in range(self._min)]
        except Exception as e:
            if not is_unavailable(e):
                raise
            log.warning("postgres is unreachable at startup: %s", e)
            return
        for conn in held:
            await self._pool.release(conn)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseUnavailable("postgres: the read pool is not open")
        return self._pool

    # Written out twice rather than through a shared helper: these run on every read.
    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._turns:
            try:
                async with self.pool.acquire() as conn:
                    try:
                        return await conn.fetchrow(query, *args)
                    except BaseException as e:
                        _drop_if_lost(conn, e)
                        raise
            except Exception as e:
                if is_unavailable(e):
                    raise database_unavailable(e) from e
                raise

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._turns:
            try:
                async with self.pool.acquire() as conn:
                    try:
                        return await conn.fetch(query, *args)
                    except BaseException as e:
                        _drop_if_lost(conn, e)
                        raise
            except Exception as e:
                if is_unavailable(e):
                    raise database_unavailable(e) from e
                raise


def _drop_if_lost(conn: PoolConnectionProxy[Any], exc: BaseException) -> None:
    """Close a connection whose statement timed out, was cancelled or lost its server, at
    once: given back to the pool it would first wait for a cancel request the stalled server
    never answers. The pool opens a new one when needed."""
    if isinstance(exc, asyncio.CancelledError) or connection_lost(exc):
        conn.terminate()


class AsyncpgContactReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, contact_id: UUID) -> Contact | None:
        row = await self._pool.fetchrow(_GET_CONTACT, workspace_id, contact_id)
        return contact_to_domain(row) if row else None

    async def list(
        self, workspace_id: UUID, page: PageRequest, tags: Sequence[str] = ()
    ) -> Page[Contact]:
        keyset = () if page.after is None else (page.after.created_at, page.after.id)
        query = _LIST[(page.order, bool(keyset), bool(tags))]
        tagged = (list(tags),) if tags else ()
        rows = await self._pool.fetch(query, workspace_id, page.limit + 1, *keyset, *tagged)
        items = [contact_to_domain(r) for r in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)


class AsyncpgApiKeyReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        row = await self._pool.fetchrow(_API_KEY_BY_HASH, secret_hash)
        return api_key_to_domain(row) if row else None

    async def touch(self, key_id: UUID, at: datetime) -> None:
        await self._pool.fetch(_TOUCH_API_KEY, key_id, at)
