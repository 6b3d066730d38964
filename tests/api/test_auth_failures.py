"""What failed authentication gets: a malformed X-Workspace-ID is 422 for every caller on every
operation, a token that is neither key nor JWT is told what a key looks like, wrong keys are
throttled per client address (429) and cost one database lookup each at most."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from crm import bootstrap
from crm.domain.model.workspace import ApiKey
from crm.ports.repositories import ApiKeyReader
from tests.api.test_http_problems import assert_problem
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.people import owner_of, sign_in

HEADER_ERROR = {
    "field": "X-Workspace-ID",
    "source": "header",
    "code": "invalid_uuid",
    "message": "must be a UUID",
}


class CountingApiKeyReader:
    """The real reader, counting the lookups of a secret (each a database round trip)."""

    def __init__(self, inner: ApiKeyReader) -> None:
        self.inner, self.lookups = inner, 0

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        self.lookups += 1
        return await self.inner.find_by_hash(secret_hash)

    async def touch(self, key_id: UUID, at: datetime) -> None:
        await self.inner.touch(key_id, at)


@asynccontextmanager
async def counted_api(
    database_url: str, redis_url: str, **overrides: Any
) -> AsyncIterator[tuple[Api, CountingApiKeyReader]]:
    settings = settings_for_tests(database_url, redis_url, **overrides)
    storage = bootstrap.postgres_storage(database_url, settings.database_pool_size)
    reader = storage.api_keys = CountingApiKeyReader(storage.api_keys)
    async with running_api(settings, storage=storage) as api:
        yield api, reader


def from_address(api: Api, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address` (scope["client"])."""
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.test")


def a_new_address() -> str:
    """Unique per run: the failure count lives in the shared Redis for a minute."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def authenticated_operations(api: Api) -> list[tuple[str, str]]:
    """Every operation of the document that takes credentials, with its path filled in."""
    found = []
    for path, item in api.app.openapi()["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue
            filled = path
            while "{" in filled:
                start, end = filled.index("{"), filled.index("}")
                filled = filled[:start] + str(uuid.uuid4()) + filled[end + 1 :]
            found.append((method.upper(), filled))
    return found


def malformed_forms_of(workspace_id: str) -> list[str]:
    """Values that are not a workspace id, most of them spelling the caller's own one in a
    form `uuid.UUID` would take but the documented `format: uuid` does not."""
    return [
        "",
        "nope",
        workspace_id.replace("-", ""),
        "{" + workspace_id + "}",
        "urn:uuid:" + workspace_id,
        workspace_id[:-1],
        workspace_id + "0",
    ]


async def test_a_malformed_workspace_header_is_422_for_every_caller_on_every_operation(
    database_url: str, redis_url: str
) -> None:
    # A cache that holds callers (as in production), primed before the sweep.
    settings = settings_for_tests(database_url, redis_url, auth_cache_ttl_seconds=30)
    async with running_api(settings) as api:
        created = await api.workspace()
        key = {"Authorization": f"Bearer {created.secret}"}
        owner, workspace_id = await owner_of(api.client)
        person = {"Authorization": owner["Authorization"]}
        assert (await api.client.get("/v1/contacts", headers=key)).status_code == 200
        assert (await api.client.get("/v1/workspaces", headers=person)).status_code == 200
        callers = [(key, str(created.workspace.id)), (person, workspace_id)]
        operations = authenticated_operations(api)
        assert len(operations) > 80
        wrong = []
        for headers, own in callers:
            for method, path in operations:
                for value in malformed_forms_of(own):
                    sent = {**headers, "X-Workspace-ID": value}
                    r = await api.client.request(method, path, headers=sent)
                    problem = r.headers.get("content-type") == "application/problem+json"
                    body = r.json() if problem else {}
                    if r.status_code != 422 or body.get("errors") != [HEADER_ERROR]:
                        wrong.append((method, path, value, r.status_code, body.get("code")))
        assert wrong == []
        # The canonical form in capitals is the same UUID (RFC 9562 compares case-insensitively).
        upper = {**key, "X-Workspace-ID": str(created.workspace.id).upper()}
        assert (await api.client.get("/v1/contacts", headers=upper)).status_code == 200


async def test_the_document_declares_the_422_wherever_it_declares_the_header(api: Api) -> None:
    for item in api.app.openapi()["paths"].values():
        for operation in item.values():
            names = {p["name"] for p in operation.get("parameters", [])}
            if "X-Workspace-ID" in names:
                assert "422" in operation["responses"], operation["operationId"]


NOT_KEYS_NOR_JWTS = [
    "crm_sk_...",
    "crm_sk_",
    "crm_sk_" + "a" * 42,
    "crm_sk_" + "a" * 44,
    "crm_sk_" + "!" * 43,
    "crm_sk_" + "a" * 21 + "." + "a" * 21,
    "crm_sk_" + "a" * 42 + "é",
    "not-a-key",
    "hello world",
    "a.b",
    "..",
    "a..b",
    ".a.b",
    "a.b.c.d",
    "eyJhbGciOi.not a.jwt",
    "Bearer",
    "x" * 500,
]
JWT_SHAPED = ["aaa.bbb.ccc", "eyJhbGciOiJub25lIn0.e30.", "eyJ0eXAi.eyJzdWIi.c2lnbmF0dXJl"]


@pytest.mark.parametrize("firebase", [True, False], ids=["with-firebase", "without-firebase"])
async def test_each_class_of_bearer_token_gets_its_own_answer(
    database_url: str, redis_url: str, firebase: bool
) -> None:
    no_firebase = {"firebase_project_id": None, "firebase_auth_emulator_host": None}
    overrides = {} if firebase else no_firebase
    async with counted_api(database_url, redis_url, **overrides) as (api, reader):
        for token in NOT_KEYS_NOR_JWTS:
            sent = {b"Authorization": f"Bearer {token}".encode("latin-1")}
            r = await api.client.get("/v1/contacts", headers=sent)
            body = assert_problem(r, 401, "invalid_credentials")
            assert "`crm_sk_` followed by 43 letters, digits" in str(body["detail"]), token
            assert token not in str(body["detail"]) or len(token) < 8
        for token in JWT_SHAPED:
            r = await api.client.get("/v1/contacts", headers={"Authorization": f"Bearer {token}"})
            assert_problem(r, 401, "invalid_token" if firebase else "sign_in_not_configured")
        for empty in ("Bearer", "Bearer ", "Bearer    ", ""):
            r = await api.client.get("/v1/contacts", headers={"Authorization": empty})
            assert_problem(r, 401, "missing_credentials")
        assert reader.lookups == 0  # none of these was worth a database trip
        person = sign_in("ada@example.com")  # a real (emulator) ID token
        r = await api.client.get("/v1/workspaces", headers=person)
        assert r.status_code == (200 if firebase else 401), r.text


async def test_wrong_keys_are_throttled_per_address_and_looked_up_once_each(
    database_url: str, redis_url: str
) -> None:
    limit = 5
    overrides = {"auth_failure_limit": limit, "auth_cache_ttl_seconds": 30}
    async with counted_api(database_url, redis_url, **overrides) as (api, reader):
        created, later = await api.workspace(), await api.workspace("Later")
        known = {"Authorization": f"Bearer {created.secret}"}
        unseen = {"Authorization": f"Bearer {later.secret}"}
        async with from_address(api, a_new_address()) as attacker:
            for _ in range(50):  # successes never count as failures
                assert (await attacker.get("/v1/contacts", headers=known)).status_code == 200
            statuses = []
            for n in range(limit + 15):
                wrong = {"Authorization": f"Bearer crm_sk_{n:043d}"}
                r = await attacker.get("/v1/contacts", headers=wrong)
                statuses.append(r.status_code)
                if r.status_code == 429:
                    body = assert_problem(r, 429, "too_many_failed_attempts")
                    assert 1 <= int(r.headers["retry-after"]) <= 60
                    assert str(limit) in str(body["detail"])
            assert statuses == [401] * limit + [429] * 15
            # The one over the limit was looked up; the blocked ones were not.
            assert reader.lookups == 1 + limit + 1
            # Blocked: a key this process verified recently still works, an unseen one waits.
            assert (await attacker.get("/v1/contacts", headers=known)).status_code == 200
            assert_problem(
                await attacker.get("/v1/contacts", headers=unseen), 429, "too_many_failed_attempts"
            )
        async with from_address(api, a_new_address()) as neighbour:
            assert (await neighbour.get("/v1/contacts", headers=unseen)).status_code == 200


async def test_a_wrong_key_is_not_looked_up_again(database_url: str, redis_url: str) -> None:
    async with counted_api(database_url, redis_url) as (api, reader):
        wrong = {"Authorization": "Bearer crm_sk_" + "W" * 43}
        for n in range(10):
            headers = {**wrong, "X-Workspace-ID": str(uuid.uuid4())} if n % 2 else wrong
            r = await api.client.get("/v1/contacts", headers=headers)
            assert_problem(r, 401, "invalid_credentials")
        assert reader.lookups == 1
