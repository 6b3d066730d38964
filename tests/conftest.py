"""Shared fixtures: real PostgreSQL and Redis, one fresh database per test (from a template)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from crm.adapters.postgres import migrations
from tests.support.servers import postgres_server_url, redis_server_url

# moto's AWS server (fixtures `moto_url`, `sqs_endpoint`), started only by tests that use it.
pytest_plugins = ["tests.support.moto"]

TEMPLATE = f"crm_test_template_{os.getpid()}"


def database_url_for(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return postgres_server_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_server_url()


async def _admin(server_url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_dsn(server_url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session")
async def template_database(pg_server_url: str) -> AsyncIterator[str]:
    """A database migrated to head once per session; each test clones it."""
    await _admin(
        pg_server_url, f"DROP DATABASE IF EXISTS {TEMPLATE}", f"CREATE DATABASE {TEMPLATE}"
    )
    await asyncio.to_thread(migrations.upgrade, database_url_for(pg_server_url, TEMPLATE))
    yield TEMPLATE
    await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


class Databases:
    """Fresh databases cloned from the template one test ahead, and dropped after their
    test, in a thread of their own: the server's tens of milliseconds of copying and dropping
    overlap the test before instead of adding to every test (about a tenth of the suite)."""

    def __init__(self, server_url: str, template: str) -> None:
        self._server_url, self._template = server_url, template
        self._work = ThreadPoolExecutor(1, thread_name_prefix="test-databases")
        self._drops: list[Future[None]] = []
        self._next = self._work.submit(self._create)

    def _create(self) -> str:
        name = f"crm_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(self._server_url, f"CREATE DATABASE {name} TEMPLATE {self._template}"))
        return name

    def _drop(self, name: str) -> None:
        asyncio.run(_admin(self._server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    async def take(self) -> str:
        ready, self._next = self._next, self._work.submit(self._create)
        return await asyncio.wrap_future(ready)

    def drop(self, name: str) -> None:
        self._drops.append(self._work.submit(self._drop, name))

    def close(self) -> None:
        """Drop the database made ahead too, and fail loudly if any drop failed."""
        with contextlib.suppress(Exception):  # a failed creation already failed its test
            self._drop(self._next.result())
        self._work.shutdown(wait=True)
        for done in self._drops:
            done.result()


@pytest_asyncio.fixture(scope="session")
async def databases(pg_server_url: str, template_database: str) -> AsyncIterator[Databases]:
    made = Databases(pg_server_url, template_database)
    yield made
    await asyncio.to_thread(made.close)


@pytest_asyncio.fixture
async def database_url(pg_server_url: str, databases: Databases) -> AsyncIterator[str]:
    """A private database for one test, at the head migration."""
    name = await databases.take()
    yield database_url_for(pg_server_url, name)
    databases.drop(name)


@pytest_asyncio.fixture
async def empty_database_url(pg_server_url: str) -> AsyncIterator[str]:
    """A private database with no schema at all (for migration tests)."""
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_url, f"CREATE DATABASE {name}")
    yield database_url_for(pg_server_url, name)
    await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection to the test's database, for asserting what was really stored."""
    conn = await asyncpg.connect(_dsn(database_url))
    yield conn
    await conn.close()
