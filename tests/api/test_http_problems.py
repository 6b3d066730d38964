"""Every failure is an RFC 9457 problem with a stable code and the request id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import Response

from tests.support.api import Api, running_api, settings_for_tests

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "request_id", "errors"}


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert set(body) == PROBLEM_KEYS
    assert (body["status"], body["code"]) == (status, code)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_malformed_json_is_400(api: Api) -> None:
    auth = await api.key()
    r = await api.client.post(
        "/v1/contacts",
        content=b'{"first_name": ',
        headers={**auth, "content-type": "application/json"},
    )
    assert_problem(r, 400, "malformed_json")


async def test_a_missing_body_is_422(api: Api) -> None:
    auth = await api.key()
    r = await api.client.post("/v1/contacts", headers=auth)
    assert assert_problem(r, 422, "validation_failed")["errors"]


async def test_unknown_routes_and_wrong_methods(api: Api) -> None:
    auth = await api.key()
    assert_problem(await api.client.get("/v1/nothing", headers=auth), 404, "route_not_found")
    r = await api.client.put("/v1/contacts", json={}, headers=auth)
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


async def test_a_path_id_that_is_not_a_uuid_is_422(api: Api) -> None:
    auth = await api.key()
    body = assert_problem(
        await api.client.get("/v1/contacts/42", headers=auth), 422, "validation_failed"
    )
    assert body["errors"] == [
        {
            "field": "contact_id",
            "source": "path",
            "code": "uuid_parsing",
            "message": body["errors"][0]["message"],
        }
    ]


async def test_oversized_bodies_are_413_before_parsing(database_url: str, redis_url: str) -> None:
    async with running_api(settings_for_tests(database_url, redis_url, max_body_bytes=2048)) as api:
        auth = await api.key()
        big = {"first_name": "A", "job_title": "x" * 4000}
        assert_problem(
            await api.client.post("/v1/contacts", json=big, headers=auth), 413, "payload_too_large"
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000

        streamed = await api.client.post(
            "/v1/contacts", content=chunks(), headers={**auth, "content-type": "application/json"}
        )
        assert_problem(streamed, 413, "payload_too_large")


async def test_request_ids_are_echoed_or_made(api: Api) -> None:
    auth = await api.key()
    r = await api.client.get("/v1/contacts/42", headers={**auth, "X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["request_id"] == "abc-123"
    made = await api.client.get(
        "/v1/contacts", headers={**auth, "X-Request-ID": "bad id\twith spaces"}
    )
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-content-type-options"] == "nosniff"


async def test_an_unexpected_error_is_a_500_that_leaks_nothing(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        async def execute(self, *_: object) -> None:
            raise RuntimeError("SELECT password FROM secrets -- crm_sk_supersecret")

    auth = await api.key()
    monkeypatch.setattr(api.container.get_contact, "execute", Broken().execute)
    r = await api.client.get("/v1/contacts/0190c2a0-0000-7000-8000-000000000000", headers=auth)
    body = assert_problem(r, 500, "internal_error")
    assert "SELECT" not in r.text
    assert "supersecret" not in r.text
    assert "Traceback" not in r.text
    assert body["request_id"] in caplog.text
