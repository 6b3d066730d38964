"""Engines and URLs: SQLAlchemy for units of work, plain asyncpg DSNs for the read pool.

Both pools are bounded in time the same way (`DatabaseTimeouts`): a stalled or unreachable
server costs a request at most the connect, wait or statement bound, never the whole outage.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from crm.adapters.postgres.errors import drop_lost_connections
from crm.domain.errors import DatabaseUnavailable

COMMAND_MARGIN_SECONDS = 1.0
"""How much longer than the server's statement_timeout the client waits for any answer: the
server's own cancel (a clean error on a connection that stays usable) normally comes first."""


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """Seconds: to open a connection, to wait for a free one, for one statement."""

    connect: float = 2.0
    pool: float = 2.0
    statement: float = 5.0

    @property
    def command(self) -> float:
        """The client's own bound on any answer, so a server that says nothing is bounded too."""
        return self.statement + COMMAND_MARGIN_SECONDS

    def asyncpg_connect_args(self) -> dict[str, Any]:
        return {
            "timeout": self.connect,
            "command_timeout": self.command,
            "server_settings": {"statement_timeout": str(round(self.statement * 1000))},
        }


def create_engine(
    url: str, *, pool_size: int = 5, timeouts: DatabaseTimeouts | None = None
) -> AsyncEngine:
    timeouts = timeouts or DatabaseTimeouts()
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.pool,
        connect_args=timeouts.asyncpg_connect_args(),
        json_serializer=lambda v: orjson.dumps(v).decode(),
        json_deserializer=orjson.loads,
    )
    event.listen(engine.sync_engine, "handle_error", drop_lost_connections)
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    """A pooled connection the server closed (a restart) is replaced before use. A local flag,
    not a round trip: no ping per checkout."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


class Turns:
    """A first-come-first-served queue for a pool's connections, waited on for at most `wait`
    seconds: the pool's own queue lets newcomers overtake waiters (a p99 many times the p50).

    Under load most requests wait, so waiting is kept cheap: a future per waiter and one timer
    per queue (at the oldest waiter's deadline), not an `asyncio.timeout` per waiter; and the
    loop is looked up only when a queue forms (`asyncio.get_running_loop()` makes a getpid
    system call each time, measurable here on every request under load)."""

    def __init__(self, size: int, wait: float = 2.0) -> None:
        self._free = size
        self._wait = wait
        self._waiters: deque[tuple[asyncio.Future[None], float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def locked(self) -> bool:
        return self._free == 0

    @property
    def free(self) -> int:
        """How many turns nobody holds."""
        return self._free

    async def acquire(self) -> None:
        if self._free > 0:
            self._free -= 1  # free: returns at once, no timer on the hot path
            return
        while self._waiters and self._waiters[0][0].done():
            self._waiters.popleft()
        loop = self._loop
        if loop is None or not self._waiters:  # a queue forms: in the loop running now
            loop = self._loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._waiters.append((turn, loop.time() + self._wait))
        if self._timer is None:
            self._timer = loop.call_at(self._waiters[0][1], self._expire)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self.release()  # handed a turn just as the waiter was cancelled: pass it on
            raise

    def release(self) -> None:
        """The turn goes to the oldest waiter still waiting, else back to the free ones."""
        while self._waiters:
            turn, _ = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    def _expire(self) -> None:
        """Refuse the waiters past their deadline (the oldest are at the front)."""
        self._timer = None
        loop = self._loop
        assert loop is not None  # noqa: S101 (set when the timer was)
        now = loop.time()
        while self._waiters and (self._waiters[0][1] <= now or self._waiters[0][0].done()):
            turn, _ = self._waiters.popleft()
            if not turn.done():
                turn.set_exception(
                    DatabaseUnavailable(f"postgres: no connection came free within {self._wait} s")
                )
        if self._waiters:
            self._timer = loop.call_at(self._waiters[0][1], self._expire)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def asyncpg_dsn(url: str) -> str:
    """The same database as a DSN asyncpg understands (no `+asyncpg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
