"""Methods and paths, swept over the route table and the OpenAPI document.

An undeclared method is a 405 whose `Allow` is exactly the document's methods for the path,
answered before authentication; no literal path segment is swallowed by an id route; `/`
sends people to the docs.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi.routing import APIRoute

from crm import bootstrap
from crm.entrypoints.api.app import create_app
from crm.settings import Settings
from tests.support.api import Api
from tests.support.openapi_lint import operations

PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS", "HEAD")
PARAM = re.compile(r"{(\w+)}")


def _documented(doc: dict[str, Any]) -> dict[str, set[str]]:
    methods: dict[str, set[str]] = {}
    for path, method, _ in operations(doc):
        methods.setdefault(path, set()).add(method.upper())
    return methods


def _streams(doc: dict[str, Any], path: str, method: str) -> bool:
    """An event stream answers a documented method with a response that never ends by itself
    (a buffering client would wait forever); test_event_stream.py reads it as it comes."""
    responses = doc["paths"][path][method.lower()]["responses"]
    return "text/event-stream" in responses.get("200", {}).get("content", {})


def _instance(path: str) -> str:
    """The path with a fresh UUID for each parameter."""
    return PARAM.sub(lambda _: str(uuid.uuid4()), path)


def _memory_app_routes() -> list[APIRoute]:
    settings = Settings(_env_file=None, database_url=None, redis_url=None)
    app = create_app(bootstrap.build(settings, storage=bootstrap.memory_storage()))
    return [r for r in app.routes if isinstance(r, APIRoute)]


async def _wrong_methods(
    client: httpx.AsyncClient, doc: dict[str, Any], headers: dict[str, str]
) -> list[str]:
    wrong: list[str] = []
    for path, allowed in _documented(doc).items():
        url = _instance(path)
        for method in PROBED:
            if method in allowed and _streams(doc, path, method):
                continue
            r = await client.request(method, url, headers=headers)
            if method in allowed:
                if r.status_code == 405:
                    wrong.append(f"{method} {path}: 405 for a documented method")
                continue
            allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            if r.status_code != 405 or allow != allowed:
                wrong.append(f"{method} {path}: {r.status_code}, Allow {sorted(allow)}")
            elif method != "HEAD" and r.json()["code"] != "method_not_allowed":
                wrong.append(f"{method} {path}: code {r.json()['code']}")
    return wrong


async def test_an_undeclared_method_is_405_with_the_documented_allow_for_anyone(
    api: Api,
) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    key = await api.key()
    callers = {
        "nobody": {},
        "a bad key": {"Authorization": "Bearer crm_sk_not-a-key"},
        "an API key": key,
        "a key naming another workspace": {**key, "X-Workspace-ID": str(uuid.uuid4())},
    }
    wrong = {who: await _wrong_methods(api.client, doc, h) for who, h in callers.items()}
    assert wrong == {who: [] for who in callers}


async def test_the_405_carries_the_request_id_and_security_headers(api: Api) -> None:
    r = await api.client.request("TRACE", "/v1/contacts", headers={"X-Request-ID": "trace-1"})
    assert (r.status_code, r.headers["allow"]) == (405, "GET, POST")
    assert r.headers["x-request-id"] == "trace-1"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == "application/problem+json"


def test_no_literal_path_is_matched_by_an_id_route() -> None:
    routes = _memory_app_routes()
    collisions = [
        f"{other.path} swallows {route.path}"
        for route in routes
        for other in routes
        if other.path != route.path and other.path_regex.match(_instance(route.path))
    ]
    assert collisions == []
    # Each route still matches its own paths, and the document's paths name no convertor.
    assert [r.path for r in routes if not r.path_regex.match(_instance(r.path))] == []
    assert [r.path_format for r in routes if ":" in r.path_format] == []


async def test_ids_of_any_case_still_match_and_a_malformed_one_is_a_422(api: Api) -> None:
    auth = await api.key()
    made = await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=auth)
    contact_id = made.json()["id"]
    for spelled in (contact_id.upper(), contact_id.replace("-", ""), f"urn:uuid:{contact_id}"):
        r = await api.client.get(f"/v1/contacts/{spelled}", headers=auth)
        assert (r.status_code, r.json()["id"]) == (200, contact_id), spelled
    bad = await api.client.get("/v1/tasks/not-a-task/done", headers=auth)
    assert bad.status_code == 405  # the path exists, for POST
    bad = await api.client.post("/v1/tasks/not-a-task/done", headers=auth)
    assert bad.status_code == 422
    assert [(e["field"], e["source"], e["code"]) for e in bad.json()["errors"]] == [
        ("task_id", "path", "uuid_parsing")
    ]
    assert (await api.client.get("/v1/nothing/here", headers=auth)).status_code == 404


async def test_the_root_sends_people_to_the_docs_without_credentials(api: Api) -> None:
    r = await api.client.get("/")
    assert r.status_code in (307, 308)
    assert r.headers["location"] == "/docs"
    assert (await api.client.get("/", follow_redirects=True)).status_code == 200
