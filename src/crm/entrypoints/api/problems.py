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
) -> bytes:
    return orjson.dumps(
        {
            "type": f"/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
            "code": code,
            "request_id": scope.get(REQUEST_ID_KEY, ""),
            "errors": list(errors),
        }
    )


def problem_response(
    scope: Scope,
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(scope, status, code, title, detail, errors)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)
