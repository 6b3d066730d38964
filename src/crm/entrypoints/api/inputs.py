"""Input rules every operation shares, checked once where requests are read (LeanRoute).

NUL: PostgreSQL stores no NUL character in text or jsonb, so a string holding one is
refused with a 422 naming the field, whatever the field: every string and object key of a
JSON body, and every path and query parameter. Headers are left to their own parsers
(If-Match, Idempotency-Key and X-Workspace-ID take no free text) and HTTP servers refuse
NUL in a header anyway. In JSON a NUL can only be spelled `\\u0000`, so a body without that
sequence (nearly all) costs one byte search; one with it is parsed again to name the fields.

A body field marked `PerItem` holds items its use case validates one by one (a batch: a bad
item fails alone, in its result), so this request-wide check leaves it alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from crm.domain.model.text import NUL, Path, nul_paths

_ESCAPED_NUL = b"\\u0000"
MESSAGE = "NUL characters are not allowed"
_CHECKED_SOURCES = frozenset({"path", "query"})


class PerItem:
    """Marks a body field whose items the use case validates one at a time."""


def per_item_fields(annotation: Any) -> frozenset[str]:
    """The names (as sent) of a body model's fields marked `PerItem`."""
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return frozenset()
    return frozenset(
        field.alias or name
        for name, field in annotation.model_fields.items()
        if any(isinstance(m, PerItem) for m in field.metadata)
    )


def _error(loc: Path) -> dict[str, Any]:
    return {"type": "invalid_character", "loc": loc, "msg": MESSAGE, "input": None}


def nul_in_body(body: bytes, per_item: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """A validation error for every string and key of a JSON body that holds a NUL."""
    if _ESCAPED_NUL not in body:
        return []
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return []  # Not JSON (or too deep to be): the body's own validation says so.
    return [
        _error(("body", *path))
        for path in nul_paths(value)
        if not (path and path[0] in per_item and len(path) > 1)
    ]


def nul_in_parameters(raw: Mapping[str, Any], sources: Mapping[str, str]) -> list[dict[str, Any]]:
    """A validation error for every path or query parameter that holds a NUL."""
    found: list[dict[str, Any]] = []
    for name, value in raw.items():  # a plain loop: this runs on every request of a hot route
        if _has_nul(value) and sources[name] in _CHECKED_SOURCES:
            found.append(_error((sources[name], name)))
    return found


def _has_nul(value: Any) -> bool:
    if value.__class__ is str:
        return NUL in value
    return isinstance(value, list) and any(NUL in v for v in value if isinstance(v, str))
