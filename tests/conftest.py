"""Shared fixtures: real PostgreSQL and Redis, one fresh database per test (from a template)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

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


@pytest_asyncio.fixture
async def database_url(pg_server_url: str, template_database: str) -> AsyncIterator[str]:
    """A private database for one test, at the head migration."""
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield database_url_for(pg_server_url, name)
    await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
