"""Rate limits through real Redis (fail open when it is down), and the probes."""

from __future__ import annotations

import logging

import pytest

from tests.api.test_http_problems import assert_problem
from tests.support.api import closed_port, running_api, settings_for_tests


async def test_the_limit_is_enforced_with_headers(database_url: str, redis_url: str) -> None:
    settings = settings_for_tests(
        database_url, redis_url, rate_limit_requests=3, rate_limit_window_seconds=60
    )
    async with running_api(settings) as api:
        auth = await api.key()
        seen = []
        for _ in range(3):
            r = await api.client.get("/v1/contacts", headers=auth)
            assert r.status_code == 200
            seen.append(int(r.headers["ratelimit-remaining"]))
            assert r.headers["ratelimit-limit"] == "3"
            assert 0 < int(r.headers["ratelimit-reset"]) <= 60
        assert seen == [2, 1, 0]
        limited = await api.client.get("/v1/contacts", headers=auth)
        assert_problem(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        other = await api.key("Other")
        assert (await api.client.get("/v1/contacts", headers=other)).status_code == 200


async def test_two_api_processes_share_one_limit(database_url: str, redis_url: str) -> None:
    settings = settings_for_tests(database_url, redis_url, rate_limit_requests=4)
    async with running_api(settings) as first, running_api(settings) as second:
        auth = await first.key()
        codes = []
        for i in range(6):
            api = first if i % 2 else second
            codes.append((await api.client.get("/v1/contacts", headers=auth)).status_code)
        assert codes == [200, 200, 200, 200, 429, 429]


async def test_requests_are_served_when_redis_is_down(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{closed_port()}/0"
    async with running_api(
        settings_for_tests(database_url, dead_redis, rate_limit_requests=2)
    ) as api:
        auth = await api.key()
        with caplog.at_level(logging.WARNING):
            codes = [
                (await api.client.get("/v1/contacts", headers=auth)).status_code for _ in range(5)
            ]
        assert codes == [200] * 5
        warnings = [
            r for r in caplog.records if r.name == "crm.ratelimit" and r.levelno == logging.WARNING
        ]
        assert len(warnings) == 1
        ready = await api.client.get("/readyz")
        body = assert_problem(ready, 503, "dependency_unavailable")
        assert [e["field"] for e in body["errors"]] == ["redis"]


async def test_probes(database_url: str, redis_url: str) -> None:
    async with running_api(settings_for_tests(database_url, redis_url)) as api:
        assert (await api.client.get("/healthz")).json() == {"status": "ok", "checks": {}}
        ready = await api.client.get("/readyz")
        assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}}


async def test_readyz_names_postgres_when_it_is_down(redis_url: str) -> None:
    dead_pg = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/crm"
    async with running_api(settings_for_tests(dead_pg, redis_url)) as api:
        body = assert_problem(await api.client.get("/readyz"), 503, "dependency_unavailable")
        assert [e["field"] for e in body["errors"]] == ["postgres"]
        r = await api.client.get(
            "/v1/contacts", headers={"Authorization": "Bearer crm_sk_" + "a" * 43}
        )
        assert_problem(r, 503, "database_unavailable")
