"""Rules an OpenAPI document must follow to generate good SDKs (docs/api-conventions.md).

`lint(doc)` returns every violation as a readable line; an empty list means the document
passes. The rules are checked against deliberately broken documents in the tests, so the
linter itself is shown to fail when it should.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_MEDIA_TYPE = "application/problem+json"
CAMEL_CASE = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*")
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def lint(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if not doc.get("servers"):
        problems.append("no servers: SDK generators would guess the base URL")
    ids = Counter(op.get("operationId") for _, _, op in operations(doc))
    problems += [f"duplicate operationId {i!r}" for i, n in ids.items() if i and n > 1]
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        problems += [f"{where}: {p}" for p in _operation(doc, path, method, op)]
    problems += _components(doc)
    return problems


def _operation(doc: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> list[str]:
    out: list[str] = []
    op_id = op.get("operationId")
    if not op_id:
        out.append("no operationId")
    elif not CAMEL_CASE.fullmatch(op_id):
        out.append(f"operationId {op_id!r} is not camelCase")
    if len(op.get("tags", [])) != 1:
        out.append(f"needs exactly one tag, has {op.get('tags', [])}")
    if not op.get("summary"):
        out.append("no summary")
    out += _request_body(doc, op)
    responses: dict[str, Any] = op.get("responses", {})
    for status, response in responses.items():
        out += _response(status, response)
    missing = sorted(_expected_problems(doc, path, method, op) - set(responses))
    if missing:
        out.append(f"does not document the problems {', '.join(missing)}")
    return out + _conditional(method, op)


def _conditional(method: str, op: dict[str, Any]) -> list[str]:
    """A read that sends an ETag answers If-None-Match with 304 (and says so)."""
    responses = op.get("responses", {})
    if method != "get" or "ETag" not in responses.get("200", {}).get("headers", {}):
        return []
    out = []
    if "If-None-Match" not in _header_names(op):
        out.append("sends an ETag but takes no If-None-Match")
    if "ETag" not in responses.get("304", {}).get("headers", {}):
        out.append("sends an ETag but documents no 304 with the ETag")
    return out


def _header_names(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p.get("in") == "header"}


def _request_body(doc: dict[str, Any], op: dict[str, Any]) -> list[str]:
    body = op.get("requestBody")
    if body is None:
        return []
    out: list[str] = []
    for media_type, content in body.get("content", {}).items():
        ref = content.get("schema", {}).get("$ref")
        if ref is None:
            out.append(f"request body ({media_type}) is an inline schema, not a named one")
            continue
        name = ref.rsplit("/", 1)[-1]
        schema = doc.get("components", {}).get("schemas", {}).get(name, {})
        if schema.get("additionalProperties") is not False:
            out.append(f"request schema {name} accepts unknown fields")
        if not (schema.get("examples") or schema.get("example") or content.get("examples")):
            out.append(f"request schema {name} has no example")
    return out


def _response(status: str, response: dict[str, Any]) -> list[str]:
    content: dict[str, Any] = response.get("content", {})
    if status.startswith("3"):
        return [f"{status} response has a body"] if content else []
    if status.startswith("2"):
        for media_type, body in content.items():
            if "$ref" not in body.get("schema", {"$ref": None}):
                return [f"{status} response ({media_type}) is an inline schema"]
        return []
    problem = content.get(PROBLEM_MEDIA_TYPE, {}).get("schema", {}).get("$ref")
    if problem != PROBLEM_REF or set(content) != {PROBLEM_MEDIA_TYPE}:
        return [f"{status} response is not the Problem schema as {PROBLEM_MEDIA_TYPE}"]
    return []


def _expected_problems(doc: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> set[str]:
    """The problems an operation can return, from what it takes."""
    expected: set[str] = set()
    secured = op.get("security", doc.get("security", [])) != []
    if secured:
        expected |= {"401", "429"}
    params = op.get("parameters", [])
    if "{" in path:
        expected |= {"404", "422"}
    if any(p.get("in") == "query" for p in params):
        expected.add("422")
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in params):
        expected |= {"400", "412"}  # malformed, stale
    if "requestBody" in op:
        expected |= {"400", "413", "415", "422"}
    if method == "post" and secured:
        expected |= {"400", "409", "422"}  # Idempotency-Key: invalid, in use, reused
    return expected


def _components(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        if name.startswith("Body_"):
            out.append(f"schema {name}: FastAPI's generated Body_* name; declare a named model")
        out += [f"schema {name}: inline object at {at}" for at in _inline_objects(schema, "")]
    return out


def _inline_objects(schema: Any, at: str) -> Iterator[str]:
    """Objects with their own properties nested inside a component (SDKs name them badly)."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _inline_objects(item, f"{at}/{i}")
        return
    if not isinstance(schema, dict):
        return
    if at and "properties" in schema:
        yield at or "/"
    for key, value in schema.items():
        if key in ("examples", "example", "default", "enum", "const"):
            continue
        yield from _inline_objects(value, f"{at}/{key}")
