"""Driver failures become port errors; nothing vendor-specific crosses the port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import exc as sa_exc

from crm.domain.errors import ServiceUnavailable

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


def unreachable() -> ServiceUnavailable:
    return ServiceUnavailable("postgres: the database is unreachable")


@contextmanager
def unavailable_as_port_error() -> Iterator[None]:
    try:
        yield
    except UNAVAILABLE as e:
        raise unreachable() from e
