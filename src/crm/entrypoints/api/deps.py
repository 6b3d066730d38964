"""Request-scoped values the routes need, read from what the gateway middleware attached."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from starlette.requests import Request

from crm.domain.errors import FieldError, Unauthenticated, WorkspaceRequired
from crm.domain.model.permissions import Caller, Person, PersonRequired, Principal
from crm.entrypoints.api.conditional import if_match_version
from crm.entrypoints.api.gateway import CALLER_KEY, PRINCIPAL_KEY
from crm.entrypoints.api.schemas.problem import Problem

_PROBLEM_TEXT = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing or invalid credentials",
    403: "Not allowed: `insufficient_scope` (the API key lacks a scope), `role_forbidden` "
    "(your role does not allow it) or `person_required` (API keys cannot do this)",
    404: "Not found in the caller's workspace",
    409: "Conflicts with existing data",
    412: "If-Match names a version that is no longer current",
    413: "The request body is too large",
    415: "The body is not sent as application/json",
    422: "Validation failed; `errors` names each field",
    429: "Rate limit exceeded (`rate_limited`), or too many failed authentications from this "
    "client address (`too_many_failed_attempts`); see Retry-After",
    503: "The database is unreachable or did not answer in time (`database_unavailable`), "
    "another dependency is (`service_unavailable`), or a concurrent change to the same records "
    "got in the way (`concurrent_change`); see Retry-After",
}


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag from a read, e.g. `"3"`: the write happens only while that is '
        "still the current version (else 412). Compared strongly (RFC 9110): a weak tag "
        '`W/"3"` never matches. `*` or no header: unconditional. Malformed: 400.',
    ),
]
# The response header every read or write of a versioned object carries.
ETAG = {
    "ETag": {
        "description": 'The version as an entity tag, e.g. `"3"`; send it back in `If-Match`',
        "required": True,
        "schema": {"type": "string"},
    }
}


def principal(request: Request) -> Principal:
    """The caller acting in a workspace; a person who named none gets a 422 saying how."""
    found = request.scope.get(PRINCIPAL_KEY)
    if isinstance(found, Principal):
        return found
    caller(request)
    raise WorkspaceRequired(
        "Signed-in people name the workspace they act in with the X-Workspace-ID header "
        "(GET /v1/workspaces lists yours).",
        errors=(FieldError("X-Workspace-ID", "missing", "required for people"),),
    )


def caller(request: Request) -> Caller:
    found = request.scope.get(CALLER_KEY)
    if not isinstance(found, Caller):
        raise Unauthenticated("This route needs credentials.")
    return found


def person(request: Request) -> Person:
    """The signed-in person; API keys get a 403 saying that only people may do this."""
    found = caller(request).person
    if found is None:
        raise PersonRequired("Only a signed-in person can do this, not an API key.")
    return found


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problems an operation can return (always 401, 403 for a
    missing scope or role, 429, 503)."""
    every = sorted({*statuses, 401, 403, 429, 503})
    return {s: {"model": Problem, "description": _PROBLEM_TEXT[s]} for s in every}


def parse_if_match(value: str | None) -> int | None:
    """`"3"` (as sent in ETag) to 3; `*` or no header means unconditional (see conditional.py:
    a malformed header is a 400, a weak tag a 412)."""
    return if_match_version(value)
