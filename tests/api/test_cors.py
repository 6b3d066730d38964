"""CORS, swept over the OpenAPI document: a browser app may call every documented operation
with every header it documents, and read every header the API answers with."""

from __future__ import annotations

import re
import uuid

from tests.support.api import running_api, settings_for_tests
from tests.support.openapi_lint import operations

APP = "https://app.example"
EXPOSED = {
    "etag", "location", "x-request-id", "ratelimit-limit", "ratelimit-remaining",
    "ratelimit-reset", "retry-after", "idempotent-replayed",
}  # fmt: skip


async def test_a_preflight_for_every_documented_operation_is_allowed(
    database_url: str, redis_url: str
) -> None:
    settings = settings_for_tests(database_url, redis_url, cors_origins=[APP])
    async with running_api(settings) as api:
        doc = (await api.client.get("/openapi.json")).json()
        refused: list[str] = []
        checked = 0
        for path, method, op in operations(doc):
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            headers |= {"Authorization", "X-Request-ID"}
            if "requestBody" in op:
                headers.add("Content-Type")
            url = re.sub(r"{\w+}", lambda _: str(uuid.uuid4()), path)
            r = await api.client.options(
                url,
                headers={
                    "Origin": APP,
                    "Access-Control-Request-Method": method.upper(),
                    "Access-Control-Request-Headers": ", ".join(sorted(headers)),
                },
            )
            checked += 1
            allowed = r.headers.get("access-control-allow-methods", "")
            if (
                r.status_code != 200
                or r.headers.get("access-control-allow-origin") != APP
                or method.upper() not in allowed.split(", ")
            ):
                refused.append(f"{method.upper()} {path} {sorted(headers)}: {r.text}")
        assert checked == sum(1 for _ in operations(doc))
        assert refused == []


async def test_browsers_may_read_every_header_the_api_answers_with(
    database_url: str, redis_url: str
) -> None:
    settings = settings_for_tests(database_url, redis_url, cors_origins=[APP])
    async with running_api(settings) as api:
        r = await api.client.post(
            "/v1/contacts",
            json={"first_name": "Ada"},
            headers={**await api.key(), "Origin": APP, "Idempotency-Key": "k-1"},
        )
        assert r.status_code == 201
        exposed = set(r.headers["access-control-expose-headers"].lower().split(", "))
        assert exposed >= EXPOSED
        # An OPTIONS that is no preflight is a method like any other: not one the API takes.
        plain = await api.client.options("/v1/contacts", headers={"Origin": APP})
        assert (plain.status_code, plain.headers["allow"]) == (405, "GET, POST")
