"""Revoked keys, removed members and changed roles take effect at once: in the process that
made the change, in every other API process (Redis pub/sub), and from the CLI; without
Redis the other processes fall back to the auth cache's TTL."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest

from crm.adapters.redis.credentials import RedisCredentialInvalidation
from tests.api.test_http_problems import assert_problem
from tests.integration.test_cli import CRM
from tests.support.api import TEST_SECRET, Api, closed_port, running_api, settings_for_tests
from tests.support.people import join, owner_of
from tests.support.relay import Relay

LONG_TTL = 60.0  # longer than any test: only an invalidation can refuse a cached caller


@asynccontextmanager
async def processes(
    database_url: str, *redis_urls: str, ttl: float = LONG_TTL
) -> AsyncIterator[list[Api]]:
    """One running app per Redis URL, as separate API processes on one database."""
    async with AsyncExitStack() as stack:
        apis = [
            await stack.enter_async_context(
                running_api(settings_for_tests(database_url, url, auth_cache_ttl_seconds=ttl))
            )
            for url in redis_urls
        ]
        yield apis


async def subscribed(api: Api, within: float = 3.0) -> None:
    credentials = api.container.credentials
    assert isinstance(credentials, RedisCredentialInvalidation)
    await asyncio.wait_for(credentials.subscribed.wait(), within)


async def new_key(api: Api, admin: dict[str, str], *scopes: str) -> tuple[str, dict[str, str]]:
    body = {"name": "Zapier", "scopes": list(scopes) or ["admin"]}
    r = await api.client.post("/v1/api-keys", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['secret']}"}


async def status_within(
    request: Callable[[], Awaitable[httpx.Response]], expected: int, within: float
) -> tuple[int, float]:
    """Repeat `request` until it answers `expected`: the status seen last and the time taken."""
    loop = asyncio.get_running_loop()
    started, status = loop.time(), 0
    while True:
        status = (await request()).status_code
        if status == expected or loop.time() - started > within:
            return status, loop.time() - started
        await asyncio.sleep(0.02)


async def test_a_key_revoked_through_the_api_is_refused_at_once(
    database_url: str, redis_url: str
) -> None:
    async with processes(database_url, redis_url) as [api]:
        admin = await api.key()
        key_id, other = await new_key(api, admin, "contacts:read")
        assert (await api.client.get("/v1/contacts", headers=other)).status_code == 200
        assert (await api.client.delete(f"/v1/api-keys/{key_id}", headers=admin)).status_code == 204
        r = await api.client.get("/v1/contacts", headers=other)
        assert_problem(r, 401, "api_key_revoked")


async def test_a_demoted_admin_and_a_removed_member_lose_their_powers_at_once(
    database_url: str, redis_url: str
) -> None:
    async with processes(database_url, redis_url) as [api]:
        owner, _ = await owner_of(api.client)
        admin, admin_id = await join(api.client, owner, api.mailbox, "admin")
        member, member_id = await join(api.client, owner, api.mailbox, "member")
        await new_key(api, admin)  # the admin's role is now cached
        assert (await api.client.get("/v1/contacts", headers=member)).status_code == 200
        demoted = await api.client.patch(
            f"/v1/members/{admin_id}", json={"role": "member"}, headers=owner
        )
        assert demoted.status_code == 200, demoted.text
        body = {"name": "Again", "scopes": ["admin"]}
        r = await api.client.post("/v1/api-keys", json=body, headers=admin)
        assert_problem(r, 403, "role_forbidden")
        removed = await api.client.delete(f"/v1/members/{member_id}", headers=owner)
        assert removed.status_code == 204
        r = await api.client.get("/v1/contacts", headers=member)
        assert_problem(r, 404, "workspace_not_found")


async def test_changes_reach_another_api_process_within_a_second(
    database_url: str, redis_url: str
) -> None:
    async with processes(database_url, redis_url, redis_url) as [a, b]:
        await subscribed(b)
        owner, _ = await owner_of(a.client)
        admin, admin_id = await join(a.client, owner, a.mailbox, "admin")
        key_id, key = await new_key(a, owner, "contacts:read")
        assert (await b.client.get("/v1/contacts", headers=key)).status_code == 200
        await new_key(b, admin)
        await a.client.delete(f"/v1/api-keys/{key_id}", headers=owner)
        await a.client.patch(f"/v1/members/{admin_id}", json={"role": "member"}, headers=owner)
        status, took = await status_within(
            lambda: b.client.get("/v1/contacts", headers=key), 401, within=1.0
        )
        assert status == 401, f"still {status} after {took:.2f} s"
        status, took = await status_within(
            lambda: b.client.post(
                "/v1/api-keys", json={"name": "X", "scopes": ["admin"]}, headers=admin
            ),
            403,
            1.0,
        )
        assert status == 403, f"still {status} after {took:.2f} s"


async def test_a_key_revoked_with_the_cli_is_refused_by_a_running_app(
    database_url: str, redis_url: str
) -> None:
    async with processes(database_url, redis_url) as [api]:
        await subscribed(api)
        created = await api.workspace()
        assert created.api_key is not None
        key = {"Authorization": f"Bearer {created.secret}"}
        assert (await api.client.get("/v1/contacts", headers=key)).status_code == 200
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env = {
            **clean,
            "CRM_DATABASE_URL": database_url,
            "CRM_REDIS_URL": redis_url,
            "CRM_SECRET_KEY": TEST_SECRET,
        }
        cli = await asyncio.create_subprocess_exec(
            CRM,
            *("apikey", "revoke", str(created.api_key.id), "--workspace"),
            str(created.workspace.id),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(cli.communicate(), 60)
        assert cli.returncode == 0, err.decode()
        status, took = await status_within(
            lambda: api.client.get("/v1/contacts", headers=key), 401, within=1.0
        )
        assert status == 401, f"still {status} {took:.2f} s after the CLI revoked the key"


async def test_without_redis_other_processes_fall_back_to_the_ttl(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    down = f"redis://127.0.0.1:{closed_port()}/0"
    async with processes(database_url, down, down, ttl=1.0) as [a, b]:
        created = await a.workspace()
        key = {"Authorization": f"Bearer {created.secret}"}
        other_id, other = await new_key(a, key, "contacts:read")
        assert (await a.client.get("/v1/contacts", headers=other)).status_code == 200
        assert (await b.client.get("/v1/contacts", headers=other)).status_code == 200
        revoked = await a.client.delete(f"/v1/api-keys/{other_id}", headers=key)
        assert revoked.status_code == 204
        assert (await a.client.get("/v1/contacts", headers=other)).status_code == 401
        assert (await b.client.get("/v1/contacts", headers=other)).status_code == 200
        status, took = await status_within(
            lambda: b.client.get("/v1/contacts", headers=other), 401, within=2.0
        )
        assert status == 401
        assert took > 0.5  # the TTL, not an announcement, ended it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.name == "crm.credentials" for r in caplog.records)


async def test_an_api_process_hears_again_once_redis_is_back(
    database_url: str, redis_url: str
) -> None:
    relay = Relay(redis_url)
    try:
        async with processes(database_url, redis_url, relay.url()) as [a, b]:
            created = await a.workspace()
            admin = {"Authorization": f"Bearer {created.secret}"}
            key_id, key = await new_key(a, admin, "contacts:read")
            await asyncio.sleep(0.3)  # b tries Redis and fails meanwhile
            await relay.up()
            await subscribed(b)
            assert (await b.client.get("/v1/contacts", headers=key)).status_code == 200
            await a.client.delete(f"/v1/api-keys/{key_id}", headers=admin)
            status, _ = await status_within(
                lambda: b.client.get("/v1/contacts", headers=key), 401, within=1.0
            )
            assert status == 401
    finally:
        await relay.down()
