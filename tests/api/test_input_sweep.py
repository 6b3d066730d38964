"""Every input the API accepts, swept from its OpenAPI document, on real PostgreSQL and Redis.

For each operation the body is built from the document (the schema's example completed with
every declared property, made valid in one workspace holding one of every record), and then:
- a NUL character in each string value and each object key of the body, and in each path,
  query and header parameter, is a 422 naming that field (never a 500 from the database);
- each `date-time` (and custom date-time) leaf and query parameter set to a time UTC cannot
  hold (`0001-01-01T00:00:00+14:00`, `9999-12-31T23:59:59-14:00`) is a 422 naming it, and
  the earliest and latest times UTC can hold, and the extreme dates, are never a 500;
- the unchanged body succeeds, so the refusals above are about the one field changed.
Batch items are validated one by one (a bad item fails alone), so there the item's result
carries the 422 problem, with the field relative to the item.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from crm.adapters.memory.resolver import StaticResolver
from crm.adapters.system.resolver import SystemResolver
from tests.api.sweep_world import EXAMPLE_HOOK_HOST, World
from tests.conftest import _admin, database_url_for
from tests.support.api import running_api, settings_for_tests
from tests.support.sweep import (
    Operation,
    Path,
    Schemas,
    at,
    document,
    operations,
    pointer,
    renamed,
    replaced,
    string_leaves,
    with_nul,
)

DOC = document()
SCHEMAS = Schemas(DOC)
# Meta's calls carry no API key: a notification is signed (an unsigned sweep body is a 401
# before it is read; signed ones, NULs and all, are swept in tests/api/test_whatsapp_webhook.py)
# and the handshake answers 403 to anything but our verify token (tested there too).
META = frozenset({"receiveWhatsAppNotification", "verifyWhatsAppWebhook"})
OPERATIONS = [op for op in operations(DOC) if op.id not in META]
OUT_OF_RANGE = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
EDGES = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+00:00")
DAYS = ("0001-01-01", "9999-12-31")
NUL_TEXT = "a\x00b"
BATCH = frozenset({"batchContacts", "batchCompanies", "batchDeals"})


def _with_json_body(op: Operation) -> bool:
    return op.body_schema() is not None


def _ids(ops: list[Operation]) -> list[Any]:
    return [pytest.param(op, id=op.id) for op in ops]


def _time_params(op: Operation) -> list[str]:
    return [
        p["name"] for p in op.parameters if SCHEMAS.branch(p["schema"]).get("format") == "date-time"
    ]


@pytest_asyncio.fixture(scope="module")
async def world(pg_server_url: str, template_database: str, redis_url: str) -> AsyncIterator[World]:
    name = f"crm_test_sweep_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {template_database}")
    settings = settings_for_tests(database_url_for(pg_server_url, name), redis_url)
    try:
        # The documented example URL's host must resolve to a public address (no DNS here).
        resolver = StaticResolver({EXAMPLE_HOOK_HOST: ["93.184.216.34"]}, fallback=SystemResolver())
        async with running_api(settings, resolver=resolver) as api:
            made = World(api, SCHEMAS)
            await made.build()
            yield made
    finally:
        await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def send(
    world: World,
    op: Operation,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    ids: dict[str, str] | None = None,
) -> httpx.Response:
    url = op.path
    for name, value in {**world.ids, **(ids or {})}.items():
        url = url.replace("{" + name + "}", value)
    return await world.client.request(
        op.method.upper(),
        url,
        json=body,
        params=params,
        headers={**world.headers_for(op.id), **(headers or {})},
    )


def _fields(r: httpx.Response) -> list[str]:
    return [e.get("field") for e in r.json().get("errors", [])]


def refusal(op: Operation, path: Path, named: Path, r: httpx.Response) -> str | None:
    """Why `r` is not the 422 naming `named` the sweep expects (None when it is)."""
    if op.id in BATCH and path[:1] == ("items",) and len(path) > 2:
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:300]}"
        result = r.json()["results"][0]
        problem = result.get("problem") or {}
        fields = [e["field"] for e in problem.get("errors", [])]
        ok = problem.get("status") == 422 and pointer(named[2:]) in fields
        return None if ok else f"item {result['status']} {problem}"
    if r.status_code == 422 and pointer(named) in _fields(r):
        return None
    return f"{r.status_code} {r.text[:300]}"


async def _baseline(world: World, op: Operation, body: Any) -> None:
    r = await send(world, op, body)
    assert r.status_code < 300, f"{op.id} with its valid body: {r.status_code} {r.text[:500]}"
    if op.id in BATCH:
        assert r.json()["failed"] == 0, r.text[:500]


@pytest.mark.parametrize("op", _ids([op for op in OPERATIONS if _with_json_body(op)]))
async def test_a_nul_in_any_string_of_a_body_is_refused(world: World, op: Operation) -> None:
    schema = op.body_schema()
    assert schema is not None
    body = await world.body(op.id, schema)
    failures = []
    for path, kind in string_leaves(body):
        if kind == "value":
            mutated, named = replaced(body, path, with_nul(at(body, path))), path
        else:
            new_key = with_nul(str(path[-1]))
            mutated, named = renamed(body, path, new_key), (*path[:-1], new_key)
        why = refusal(op, path, named, await send(world, op, mutated))
        if why is not None:
            failures.append(f"{kind} {pointer(path)}: {why}")
    assert not failures, "\n".join(failures)
    await _baseline(world, op, await world.body(op.id, schema))


# Headers are parsed before or instead of pydantic, each with its own documented problem;
# none of them takes free text but Last-Event-ID, which refuses control characters, so a NUL
# never gets further. If-None-Match is only compared with the current ETag: a tag that names
# no version reads the record as usual.
HEADER_PROBLEMS: dict[str, tuple[int, str | None]] = {
    "idempotency-key": (400, "invalid_idempotency_key"),
    "if-match": (400, "invalid_if_match"),
    "if-none-match": (200, None),
    "last-event-id": (422, "validation_failed"),
    "x-workspace-id": (422, "validation_failed"),
}


TEXT_PATH_PARAMETERS = frozenset({"message_id"})
"""Path segments that are a provider's id (WhatsApp's `wamid.…`), not ours: checked by
their pattern (visible ASCII), so a NUL is a 422 naming them."""


def _parameter_expectation(param: dict[str, Any], r: httpx.Response) -> str | None:
    name, where = param["name"], param["in"]
    if where == "header":
        status, code = HEADER_PROBLEMS[name.lower()]
        ok = r.status_code == status and (code is None or r.json()["code"] == code)
    elif where == "path" and name in TEXT_PATH_PARAMETERS:
        ok = r.status_code == 422 and name in _fields(r)
    elif where == "path":
        # Ids are UUIDs, matched by the router itself: any other segment is no route at all.
        assert SCHEMAS.branch(param["schema"]).get("format") == "uuid", name
        ok = (r.status_code, r.json()["code"]) == (404, "route_not_found") or (
            r.status_code == 422 and name in _fields(r)
        )
    else:
        ok = r.status_code == 422 and name in _fields(r)
    return None if ok else f"{r.status_code} {r.text[:300]}"


@pytest.mark.parametrize("op", _ids([op for op in OPERATIONS if op.parameters]))
async def test_a_nul_in_any_parameter_is_refused(world: World, op: Operation) -> None:
    schema = op.body_schema()
    body = None if schema is None else await world.body(op.id, schema)
    failures = []
    for param in op.parameters:
        name, where = param["name"], param["in"]
        if where == "query":
            r = await send(world, op, body, params={name: NUL_TEXT})
        elif where == "header":
            r = await send(world, op, body, headers={name: NUL_TEXT})
        else:
            r = await send(world, op, body, ids={name: "a%00b"})
        why = _parameter_expectation(param, r)
        if why is not None:
            failures.append(f"{where} {name}: {why}")
    assert not failures, "\n".join(failures)


PLAN = World.placeholder(SCHEMAS)


def _time_leaves(op: Operation) -> list[tuple[Path, str]]:
    schema = op.body_schema()
    if schema is None:
        return []
    return list(SCHEMAS.formats(schema, PLAN.shape(op.id, schema)))


TIME_OPERATIONS = [op for op in OPERATIONS if _time_leaves(op) or _time_params(op)]


def test_the_time_sweep_covers_every_kind_of_time() -> None:
    """The plan reaches each place a time is accepted (a guard against an empty sweep)."""
    ids = {op.id for op in TIME_OPERATIONS}
    assert {"createTask", "updateTask", "createApiKey", "listAuditEvents"} <= ids
    assert {"createContact", "updateDeal", "batchCompanies", "searchDeals"} <= ids


async def _time_leaf_failures(world: World, op: Operation, body: Any) -> list[str]:
    failures = []
    for path, fmt in _time_leaves(op):
        for value in OUT_OF_RANGE if fmt == "date-time" else ():
            why = refusal(op, path, path, await send(world, op, replaced(body, path, value)))
            if why is not None:
                failures.append(f"{pointer(path)} = {value}: {why}")
        for value in EDGES if fmt == "date-time" else DAYS:
            r = await send(world, op, replaced(body, path, value))
            if r.status_code >= 500:
                failures.append(f"{pointer(path)} = {value}: {r.status_code} {r.text[:300]}")
    return failures


async def _time_param_failures(world: World, op: Operation, body: Any) -> list[str]:
    failures = []
    for name in _time_params(op):
        for value in (*OUT_OF_RANGE, *EDGES):
            r = await send(world, op, body, params={name: value})
            refused = r.status_code == 422 and name in _fields(r)
            if (refused if value in EDGES else not refused) or r.status_code >= 500:
                failures.append(f"query {name} = {value}: {r.status_code} {r.text[:300]}")
    return failures


@pytest.mark.parametrize("op", _ids(TIME_OPERATIONS))
async def test_times_utc_cannot_hold_are_refused(world: World, op: Operation) -> None:
    schema = op.body_schema()
    body = None if schema is None else await world.body(op.id, schema)
    failures = await _time_leaf_failures(world, op, body)
    failures += await _time_param_failures(world, op, body)
    assert not failures, "\n".join(failures)
