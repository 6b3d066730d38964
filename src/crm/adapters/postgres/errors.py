"""Driver failures become port errors; nothing vendor-specific crosses the port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import exc as sa_exc

from crm.domain.errors import ServiceUnavailable, TransactionAborted

UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)


# deadlock_detected, serialization_failure: Postgres rolled the transaction back on purpose.
_ABORTED = frozenset({"40P01", "40001"})


def aborted(exc: BaseException | None) -> TransactionAborted | None:
    """The port error for a transaction the database aborted to let another one through."""
    if isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) in _ABORTED:
        return TransactionAborted("postgres: the transaction lost a race with another writer")
    return None


def unreachable() -> ServiceUnavailable:
    return ServiceUnavailable("postgres: the database is unreachable")


@contextmanager
def unavailable_as_port_error() -> Iterator[None]:
    try:
        yield
    except UNAVAILABLE as e:
        raise unreachable() from e
