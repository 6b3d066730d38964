"""The OpenAPI document is the reviewed contract SDKs are generated from."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm import bootstrap
from crm.entrypoints.api.app import create_app
from crm.entrypoints.api.docs import PUBLIC_OPERATIONS
from crm.entrypoints.cli import openapi_text
from crm.settings import Settings
from tests.support.openapi_lint import lint

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi.json"
REDOCLY = ROOT / "sdk" / "typescript" / "node_modules" / ".bin" / "redocly"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(openapi_text())
    return loaded


def test_the_document_follows_every_rule(doc: dict[str, Any]) -> None:
    assert lint(doc) == []


def test_the_committed_document_is_the_apps_document() -> None:
    assert COMMITTED.read_text() == openapi_text(), (
        "openapi.json differs from the app's document: review the change and run `uv run crm "
        "openapi` to commit it"
    )


def test_every_post_takes_an_idempotency_key(doc: dict[str, Any]) -> None:
    posts = [op for item in doc["paths"].values() for m, op in item.items() if m == "post"]
    posts = [op for op in posts if op["operationId"] not in PUBLIC_OPERATIONS]  # Meta's calls
    assert posts
    for op in posts:
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in names, op["operationId"]


def _broken(doc: dict[str, Any], change: Any) -> list[str]:
    copied = copy.deepcopy(doc)
    change(copied)
    return lint(copied)


def _op(doc: dict[str, Any], path: str = "/v1/contacts", method: str = "post") -> Any:
    return doc["paths"][path][method]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: _op(d).pop("operationId"), "no operationId"),
        (lambda d: _op(d).update(operationId="create_contact"), "is not camelCase"),
        (lambda d: _op(d).update(operationId="getContact"), "duplicate operationId"),
        (lambda d: _op(d).update(tags=["contacts", "people"]), "exactly one tag"),
        (lambda d: _op(d).pop("summary"), "no summary"),
        (
            lambda d: _op(d)["requestBody"]["content"]["application/json"].update(
                schema={"type": "object", "properties": {"a": {"type": "string"}}}
            ),
            "inline schema",
        ),
        (
            lambda d: d["components"]["schemas"].update(
                Body_createContact={"type": "object", "properties": {}}
            ),
            "Body_",
        ),
        (
            lambda d: d["components"]["schemas"]["Contact"]["properties"].update(
                extra={"type": "object", "properties": {"x": {"type": "string"}}}
            ),
            "inline object",
        ),
        (
            lambda d: _op(d)["responses"]["409"].update(
                content={"application/json": {"schema": {"type": "object"}}}
            ),
            "not the Problem schema",
        ),
        (lambda d: _op(d, "/v1/contacts/{contact_id}", "get")["responses"].pop("404"), "404"),
        (lambda d: _op(d, "/v1/contacts/{contact_id}", "patch")["responses"].pop("412"), "412"),
        (lambda d: _op(d)["responses"].pop("409"), "409"),
        (lambda d: _op(d, "/v1/contacts", "get")["responses"].pop("429"), "429"),
        (
            lambda d: d["components"]["schemas"]["ContactCreate"].pop("additionalProperties"),
            "accepts unknown fields",
        ),
        (lambda d: d["components"]["schemas"]["ContactUpdate"].pop("examples"), "no example"),
        (lambda d: d.pop("servers"), "no servers"),
        (lambda d: _op(d, "/v1/contacts/{contact_id}", "get")["responses"].pop("304"), "304"),
        (
            lambda d: _op(d, "/v1/contacts/{contact_id}", "get").update(parameters=[]),
            "If-None-Match",
        ),
        (lambda d: _op(d, "/v1/contacts/{contact_id}", "delete")["responses"].pop("400"), "400"),
    ],
)
def test_the_linter_catches(doc: dict[str, Any], change: Any, expected: str) -> None:
    found = _broken(doc, change)
    assert any(expected in line for line in found), found


def test_redocly_finds_no_error_with_its_recommended_rules(tmp_path: Path) -> None:
    if not REDOCLY.exists():
        pytest.fail(f"{REDOCLY} is missing: run `npm ci` in sdk/typescript (needs node)")
    document = tmp_path / "openapi.json"
    document.write_text(openapi_text())
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    result = subprocess.run(  # noqa: S603 - the project's own pinned binary
        [str(REDOCLY), "lint", str(document), "--extends=recommended", "--format=json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert (report["totals"]["errors"], errors) == (0, []), result.stderr


def test_the_committed_document_names_no_deployment(doc: dict[str, Any]) -> None:
    assert [s["url"] for s in doc["servers"]] == ["/"]


async def _served_servers(**settings: Any) -> tuple[list[str], httpx.Response]:
    values = Settings(_env_file=None, database_url=None, redis_url=None, **settings)
    app = create_app(bootstrap.build(values, storage=bootstrap.memory_storage()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.acme.example") as c:
        served = await c.get("/openapi.json")
        return [s["url"] for s in served.json()["servers"]], await c.get("/")


async def test_the_served_document_names_this_deployment() -> None:
    urls, _ = await _served_servers()
    assert urls == ["https://api.acme.example"]
    urls, root = await _served_servers(public_url="https://crm.acme.example/api/")
    assert urls == ["https://crm.acme.example/api"]
    assert (root.status_code, root.headers["location"]) == (307, "/docs")
    with pytest.raises(ValueError, match="public_url"):
        Settings(_env_file=None, public_url="crm.acme.example")
