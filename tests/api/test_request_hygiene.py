"""Request hygiene: security headers everywhere, CORS only where configured, 500s leak nothing."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import ProgrammingError

from crm.settings import Settings
from tests.api.test_http_problems import assert_problem
from tests.support.api import Api, running_api, settings_for_tests

APP = "https://app.example.com"
ADA = {"first_name": "Ada", "emails": ["ada@example.com"]}


def assert_api_headers(response: object) -> None:
    from httpx import Response

    assert isinstance(response, Response)
    h = response.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert len(h["x-request-id"]) >= 1


async def test_every_api_answer_carries_the_security_headers(api: Api) -> None:
    auth = await api.key()
    json_auth = {**auth, "Content-Type": "application/json"}
    created = await api.client.post("/v1/contacts", json=ADA, headers=auth)
    answers = [
        created,
        await api.client.get(created.headers["location"], headers=auth),
        await api.client.get("/v1/contacts", headers={"Authorization": "Bearer crm_sk_nope"}),
        await api.client.get("/v1/nothing", headers=auth),
        await api.client.post("/v1/contacts", content=b"{", headers=json_auth),
        await api.client.get("/healthz"),
    ]
    assert [r.status_code for r in answers] == [201, 200, 401, 404, 400, 200]
    for r in answers:
        assert_api_headers(r)


async def test_swagger_ui_gets_them_too(api: Api) -> None:
    page = await api.client.get("/docs")
    assert page.status_code == 200
    assert_api_headers(page)


async def test_no_cross_origin_access_by_default(api: Api) -> None:
    auth = await api.key()
    r = await api.client.get("/v1/contacts", headers={**auth, "Origin": APP})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    preflight = await api.client.options(
        "/v1/contacts", headers={"Origin": APP, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.headers["content-type"] == "application/problem+json"


async def test_configured_origins_get_cors(database_url: str, redis_url: str) -> None:
    settings = settings_for_tests(database_url, redis_url, cors_origins=[APP])
    async with running_api(settings) as api:
        auth = await api.key()
        preflight = await api.client.options(
            "/v1/contacts",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == APP
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"authorization", "idempotency-key", "if-match"} <= set(allowed.split(", "))
        r = await api.client.post("/v1/contacts", json=ADA, headers={**auth, "Origin": APP})
        assert r.status_code == 201
        assert r.headers["access-control-allow-origin"] == APP
        exposed = r.headers["access-control-expose-headers"].lower()
        assert {"etag", "location", "x-request-id", "ratelimit-remaining"} <= set(
            exposed.split(", ")
        )
        # A browser app can read why it was refused.
        denied = await api.client.get("/v1/contacts", headers={"Origin": APP})
        assert denied.status_code == 401
        assert denied.headers["access-control-allow-origin"] == APP

        refused = await api.client.options(
            "/v1/contacts",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        body = assert_problem(refused, 400, "cors_preflight_refused")
        assert "origin" in str(body["detail"])
        assert "access-control-allow-origin" not in refused.headers


def test_cors_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_CORS_ORIGINS", "https://a.example, https://b.example/")
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("CRM_CORS_ORIGINS", "")
    assert Settings(_env_file=None).cors_origins == []


async def test_a_failing_write_is_a_500_without_sql_and_keeps_nothing(
    api: Api,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class BrokenDatabase:
        async def execute(self, *_: object) -> None:
            raise ProgrammingError(
                "INSERT INTO contact (id, secret) VALUES ($1, 'crm_sk_leak')",
                {"password": "hunter2"},
                Exception("relation does not exist"),
            )

    auth = {**await api.key(), "Idempotency-Key": "k-500"}
    monkeypatch.setattr(api.container.create_contact, "execute", BrokenDatabase().execute)
    r = await api.client.post("/v1/contacts", json=ADA, headers=auth)
    body = assert_problem(r, 500, "internal_error")
    assert_api_headers(r)
    for leak in ("INSERT", "crm_sk_leak", "hunter2", "relation", "Traceback", 'File "'):
        assert leak not in r.text
    assert body["request_id"] in caplog.text
    assert await db.fetchval("SELECT count(*) FROM idempotency_key") == 0
