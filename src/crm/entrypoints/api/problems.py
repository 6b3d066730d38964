"""Rendering RFC 9457 problems, shared by the error handlers and the middleware."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Scope

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_KEY = "crm.request_id"


def problem_body(
    scope: Scope,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Iterable[Mapping[str, Any]] = (),
    extensions: Mapping[str, Any] | None = None,
) -> bytes:
    """The problem document; `extensions` adds members of its own (RFC 9457 section 3.2),
    never replacing a standard one."""
    standard: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
        "code": code,
        "request_id": scope.get(REQUEST_ID_KEY, ""),
        "errors": list(errors),
    }
    extra = {k: v for k, v in (extensions or {}).items() if k not in standard}
    return orjson.dumps({**standard, **extra})


def problem_response(
    scope: Scope,
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    body = problem_body(scope, status, code, title, detail, errors, extensions)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)
