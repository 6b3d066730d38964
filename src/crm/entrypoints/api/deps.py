"""Request-scoped values the routes need, read from what the gateway middleware attached."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from crm.domain.errors import Unauthenticated, VersionConflict
from crm.domain.model.workspace import Principal
from crm.entrypoints.api.gateway import PRINCIPAL_KEY
from crm.entrypoints.api.schemas.problem import Problem

_PROBLEM_TEXT = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing or invalid credentials",
    403: "The credentials do not allow this",
    404: "Not found in the caller's workspace",
    409: "Conflicts with existing data",
    412: "If-Match names a version that is no longer current",
    413: "The request body is too large",
    415: "The body is not sent as application/json",
    422: "Validation failed; `errors` names each field",
    429: "Rate limit exceeded; see Retry-After",
    503: "A dependency is unavailable; retry shortly",
}


def principal(request: Request) -> Principal:
    found = request.scope.get(PRINCIPAL_KEY)
    if not isinstance(found, Principal):
        raise Unauthenticated("This route needs credentials.")
    return found


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problems an operation can return (always 401, 429, 503)."""
    every = sorted({*statuses, 401, 429, 503})
    return {s: {"model": Problem, "description": _PROBLEM_TEXT[s]} for s in every}


def parse_if_match(value: str | None) -> int | None:
    """`"3"` (as sent in ETag) to 3; `*` or no header means unconditional."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip().removeprefix("W/")
    if len(tag) >= 3 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
        return int(tag[1:-1])
    raise VersionConflict('If-Match must be an ETag this API returned, e.g. "3".')
