"""Request bodies built from the OpenAPI document, and the leaves a sweep mutates one by one.

A body is the schema's first example with every property the example leaves out filled in
(from `overrides` by property name when given, else generated from the property's schema),
so every string the operation accepts is present once. The sweep then walks the body's
leaves: each string value, each object key, and which of them the schema declares as a
`date-time` or `date`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from crm.entrypoints.cli import openapi_text

# Values a generated body uses for times; a leaf holding one of them is swept like a declared
# `date-time` (`date`) leaf even where the schema cannot say so (custom fields, filter values).
WHEN = "2030-01-02T03:04:05Z"
DAY = "2030-01-02"
Path = tuple[str | int, ...]
Override = Callable[[], Any]
METHODS = ("get", "put", "post", "patch", "delete")


def document() -> dict[str, Any]:
    """The app's own OpenAPI document (built without I/O, as `crm openapi` writes it)."""
    doc: dict[str, Any] = json.loads(openapi_text())
    return doc


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return list(self.spec.get("parameters", []))

    def body_schema(self, media_type: str = "application/json") -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        found = content.get(media_type)
        return None if found is None else dict(found["schema"])


def operations(doc: dict[str, Any]) -> list[Operation]:
    return [
        Operation(spec["operationId"], method, path, spec)
        for path, item in doc["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]


class Schemas:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.components: dict[str, Any] = doc["components"]["schemas"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def branch(self, schema: dict[str, Any], value: Any = ...) -> dict[str, Any]:
        """The member of an anyOf/oneOf that fits `value` (the first non-null one if none given)."""
        schema = self.resolve(schema)
        members = schema.get("anyOf") or schema.get("oneOf")
        if not members:
            return schema
        resolved = [self.resolve(m) for m in members if self.resolve(m).get("type") != "null"]
        wanted = _json_type(value)
        fitting = [m for m in resolved if wanted is None or _json_type_of(m) in (wanted, None)]
        return self.branch((fitting or resolved)[0], value)

    def build(self, schema: dict[str, Any], overrides: dict[str, Override]) -> Any:
        """A value for `schema`: its example completed with every property, or generated."""
        schema = self.branch(schema)
        if schema.get("type") == "object" and "properties" in schema:
            body = copy.deepcopy(schema.get("examples", [{}])[0])
            for name, prop in schema["properties"].items():
                if name in overrides:
                    body[name] = overrides[name]()
                elif name not in body:
                    body[name] = self.build(prop, overrides)
            return body
        if "examples" in schema:
            return copy.deepcopy(schema["examples"][0])
        return self._generated(schema, overrides)

    def _generated(self, schema: dict[str, Any], overrides: dict[str, Override]) -> Any:
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        kind = str(schema.get("type"))
        if kind == "array":
            return [self.build(schema["items"], overrides)]
        if kind == "object":
            raise AssertionError(f"no override for a free-form object: {schema}")
        if kind == "string":
            fmt = str(schema.get("format"))
            if fmt == "uuid" or "pattern" in schema:
                raise AssertionError(f"no override for a uuid or patterned string: {schema}")
            return {"date-time": WHEN, "date": DAY}.get(fmt, "sweep text")
        return {"integer": schema.get("minimum", 1), "number": 1, "boolean": False}[kind]

    def formats(
        self, schema: dict[str, Any], value: Any, path: Path = ()
    ) -> Iterator[tuple[Path, str]]:
        """(path, format) of every string leaf of `value` that is a date-time or a date."""
        schema = self.branch(schema, value)
        if isinstance(value, dict):
            props, extra = schema.get("properties", {}), schema.get("additionalProperties")
            for key, item in value.items():
                sub = props.get(key, extra if isinstance(extra, dict) else {})
                yield from self.formats(sub, item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from self.formats(schema.get("items", {}), item, (*path, i))
        elif isinstance(value, str):
            fmt = schema.get("format")
            if fmt in ("date-time", "date") or value in (WHEN, DAY):
                yield path, fmt or ("date-time" if value == WHEN else "date")


def _json_type(value: Any) -> str | None:
    if value is ...:
        return None
    for kind, types in (("object", dict), ("array", list), ("string", str), ("boolean", bool)):
        if isinstance(value, types):
            return kind
    return "number" if isinstance(value, int | float) else None


def _json_type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "integer":
        return "number"
    if kind is None and "enum" in schema:
        return "string"
    return kind if isinstance(kind, str) else None


def string_leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string value of `value`, and every object key as ("key", path to the member)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), "key"
            yield from string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from string_leaves(item, (*path, i))
    elif isinstance(value, str):
        yield path, "value"


def replaced(body: Any, path: Path, new: Any) -> Any:
    out = copy.deepcopy(body)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = new
    return out


def renamed(body: Any, path: Path, new_key: str) -> Any:
    out = copy.deepcopy(body)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    parent[new_key] = parent.pop(path[-1])
    return out


def at(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def pointer(path: Path) -> str:
    """The JSON pointer the API's problems name a body field with (`/items/0/emails/1`)."""
    return "/" + "/".join(str(p) for p in path)


def with_nul(text: str) -> str:
    """`text` with a NUL in place of its last character (its length, so its limits, unchanged)."""
    return text[:-1] + "\x00" if text else "\x00"
