"""Driver failures become port errors; nothing vendor-specific crosses the port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext

from crm.domain.errors import DatabaseUnavailable, TransactionAborted

# Connection exceptions (class 08), and the server shutting down, crashed, still starting,
# dropping the database or ending an idle session (57P01-57P05): the connection is gone.
_LOST_STATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05"})
# A statement the server cancelled at statement_timeout, too many connections: the server is
# there but cannot serve this now; a connection it answered on stays usable.
_BUSY_STATES = frozenset({"57014", "53300"})
# deadlock_detected, serialization_failure: Postgres rolled the transaction back on purpose.
_ABORTED = frozenset({"40P01", "40001"})


def driver_error(exc: BaseException) -> BaseException:
    """asyncpg's own exception under SQLAlchemy's wrappers (itself when not wrapped)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    inner = getattr(exc, "orig", None)  # SQLAlchemy's emulated DBAPI error around asyncpg's
    return inner if isinstance(inner, BaseException) else exc


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else ""


def connection_lost(exc: BaseException) -> bool:
    """True when the connection `exc` came from is dead, hung or in an unknown protocol state,
    so it must be dropped rather than used again."""
    exc = driver_error(exc)
    if isinstance(exc, OSError | asyncpg.InternalClientError):  # OSError covers TimeoutError
        return True
    # InterfaceError is also misuse: bad query input (DataError) is no outage.
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, ValueError):
        return True
    state = _sqlstate(exc)
    return state.startswith("08") or state in _LOST_STATES


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot serve right now (rather than refusing the
    request): retrying later may succeed."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return connection_lost(exc) or _sqlstate(driver_error(exc)) in _BUSY_STATES


def database_unavailable(exc: BaseException) -> DatabaseUnavailable:
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(f"postgres: {why}")


def aborted(exc: BaseException | None) -> TransactionAborted | None:
    """The port error for a transaction the database aborted to let another one through."""
    if isinstance(exc, sa_exc.DBAPIError) and _sqlstate(driver_error(exc)) in _ABORTED:
        return TransactionAborted("postgres: the transaction lost a race with another writer")
    return None


@contextmanager
def unavailable_as_port_error() -> Iterator[None]:
    try:
        yield
    except Exception as e:
        if is_unavailable(e):
            raise database_unavailable(e) from e
        raise


def drop_lost_connections(ctx: ExceptionContext) -> None:
    """SQLAlchemy `handle_error` hook: a lost or hung connection is closed at once and the
    pool's older connections with it. Invalidating on error replaces a ping per checkout;
    closing without the polite goodbye (which waits on a stalled server) keeps it bounded."""
    if not (ctx.is_disconnect or connection_lost(ctx.original_exception)):
        return
    ctx.is_disconnect = True
    conn = ctx.connection
    if conn is not None and not conn.invalidated:
        driver = conn.connection.driver_connection
        if driver is not None:
            driver.terminate()
