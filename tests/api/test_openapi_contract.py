"""The OpenAPI document is the reviewed contract SDKs are generated from."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from crm.entrypoints.cli import openapi_text
from tests.support.openapi_lint import lint

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"


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
    ],
)
def test_the_linter_catches(doc: dict[str, Any], change: Any, expected: str) -> None:
    found = _broken(doc, change)
    assert any(expected in line for line in found), found
