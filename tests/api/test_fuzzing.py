"""Schemathesis over every operation, in-process, authenticated, on real PostgreSQL and Redis.

Zero failures of: no server error, documented status codes, content types, response schemas
and response headers. A failure here means the service or its document is wrong; fix that,
never the check list.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm import bootstrap
from crm.adapters.postgres.engine import asyncpg_dsn
from crm.domain.use_cases.create_workspace import CreateWorkspaceCommand
from crm.entrypoints.api.app import create_app
from crm.entrypoints.cli import openapi_text
from tests.conftest import _admin, database_url_for
from tests.support.api import settings_for_tests

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_OPERATION = int(os.environ.get("CRM_FUZZ_EXAMPLES", "40"))
# A stream never ends by itself, and schemathesis reads a response whole: streams are tested in
# tests/api/test_event_stream.py, through a driver that reads them as they are sent.
STREAMS = ["streamEvents"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_database(pg_server_url: str, template_database: str) -> AsyncIterator[str]:
    name = f"crm_test_fuzz_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield database_url_for(pg_server_url, name)
    await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_key(fuzz_database: str, redis_url: str) -> str:
    """A workspace API key, made by a container of its own on the test's event loop."""
    container = bootstrap.build(settings_for_tests(fuzz_database, redis_url))
    await container.start()
    try:
        created = await container.create_workspace.execute(CreateWorkspaceCommand("Fuzz"))
    finally:
        await container.stop()
    assert created.secret is not None  # a key is asked for
    return created.secret


@pytest.fixture(scope="module")
def fuzz_app(fuzz_database: str, redis_url: str) -> Iterator[FastAPI]:
    """The real app; schemathesis runs its lifespan on its own event loop thread."""
    app = create_app(bootstrap.build(settings_for_tests(fuzz_database, redis_url)))
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app).exclude(operation_id=STREAMS)


async def _empty_workspace(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "TRUNCATE contact, contact_email, company, deal, outbox_event, idempotency_key CASCADE"
        )
    finally:
        await conn.close()


def _operations() -> list[tuple[str, str]]:
    """Every operation of the committed-to-be document (the app's own, built without I/O)."""
    doc = json.loads(openapi_text())
    return [
        (path, method)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if operation["operationId"] not in STREAMS
    ]


# schemathesis' own `from_fixture` parametrization does not run on pytest 9; this is the same
# thing spelled out: one test per operation, hypothesis drawing its cases.
@pytest.mark.parametrize(("path", "method"), _operations())
def test_every_operation_conforms(
    path: str, method: str, fuzz_schema: BaseSchema, fuzz_key: str
) -> None:
    operation = fuzz_schema[path][method.upper()]
    headers = {"Authorization": f"Bearer {fuzz_key}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def conforms(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    conforms()


def test_workflows_along_the_documented_links(
    fuzz_schema: BaseSchema, fuzz_key: str, fuzz_database: str
) -> None:
    """Stateful: create, then get, update and delete what was created (OpenAPI links)."""
    headers = {"Authorization": f"Bearer {fuzz_key}"}

    class Workflows(fuzz_schema.as_state_machine()):  # type: ignore[misc]  # made at run time
        def setup(self) -> None:
            # Every scenario starts from an empty workspace: the cases hypothesis draws from
            # earlier responses must not depend on what earlier scenarios left behind.
            asyncio.run(_empty_workspace(fuzz_database))

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **_: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Workflows.run(
        settings=settings(
            max_examples=EXAMPLES_PER_OPERATION,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
