"""One table from domain errors to HTTP problems, and the handlers that render them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from crm.domain import errors as e
from crm.domain.model.event_stream import TooManyStreams
from crm.domain.model.whatsapp import MalformedNotification
from crm.entrypoints.api.conditional import InvalidIfMatch
from crm.entrypoints.api.problems import REQUEST_ID_KEY, problem_response

log = logging.getLogger("crm.api")

STATUS_BY_ERROR: tuple[tuple[type[e.DomainError], int], ...] = (
    (InvalidIfMatch, 400),
    (MalformedNotification, 400),
    (e.NotFound, 404),
    (e.VersionConflict, 412),
    (e.Conflict, 409),
    (e.InvalidInput, 422),
    (e.IdempotencyKeyReused, 422),
    (e.InvalidCursor, 422),
    (e.RuleViolation, 422),
    (e.PermissionDenied, 403),
    (e.Unauthenticated, 401),
    (TooManyStreams, 429),
)

HTTP_CODES = {
    400: ("malformed_request", "The request could not be read"),
    404: ("route_not_found", "No such route"),
    405: ("method_not_allowed", "Method not allowed on this route"),
    413: ("payload_too_large", "The request body is too large"),
    415: ("unsupported_media_type", "The body must be JSON"),
}


def status_of(error: e.DomainError) -> int:
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(error, cls)), 422)


def _field(error: e.FieldError, source: str = "body") -> dict[str, str]:
    return {"field": error.field, "source": source, "code": error.code, "message": error.message}


def problem_of(error: e.DomainError) -> dict[str, Any]:
    """The problem the API answers for `error`, as a dict (a batch item's result carries it)."""
    return {
        "type": f"/problems/{error.code}",
        "title": error.title,
        "status": status_of(error),
        "detail": error.detail,
        "code": error.code,
        "errors": [_field(f) for f in error.errors],
        **error.extensions,
    }


async def domain_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, e.DomainError):
        raise exc
    source = "body"
    if isinstance(exc, e.InvalidCursor | e.InvalidQuery):
        source = "query"
    elif isinstance(exc, e.WorkspaceRequired):
        source = "header"
    errors = [_field(f, source) for f in exc.errors]
    if isinstance(exc, e.InvalidCursor):
        errors = [{"field": "cursor", "source": "query", "code": exc.code, "message": exc.detail}]
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, e.Unauthenticated) else None
    if isinstance(exc, TooManyStreams):
        headers = {"Retry-After": "5"}
    return problem_response(
        request.scope,
        status_of(exc),
        exc.code,
        exc.title,
        exc.detail,
        errors=errors,
        headers=headers,
        extensions=exc.extensions,
    )


def unavailable_problem(scope: Scope, exc: e.PortError) -> Response:
    """503 with Retry-After, its `code` named by the error (`database_unavailable` ...)."""
    return problem_response(
        scope, 503, exc.code, exc.title, exc.advice, headers={"Retry-After": "1"}
    )


async def service_unavailable(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, e.PortError):
        raise exc
    log.warning(
        "dependency unavailable: %s", exc, extra={"request_id": request.scope.get(REQUEST_ID_KEY)}
    )
    return unavailable_problem(request.scope, exc)


def _validation_item(item: dict[str, Any]) -> dict[str, str]:
    source, *path = item["loc"]
    if source == "body":
        field = "/" + "/".join(str(p) for p in path)
    else:
        field = ".".join(str(p) for p in path)
    return {"field": field, "source": str(source), "code": item["type"], "message": item["msg"]}


async def validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    items = list(exc.errors())
    if any(item["type"] == "json_invalid" for item in items):
        return problem_response(
            request.scope,
            400,
            "malformed_json",
            "The body is not valid JSON",
            "The request body could not be parsed as JSON.",
        )
    return problem_response(
        request.scope,
        422,
        "validation_failed",
        "The request is invalid",
        f"{len(items)} field(s) failed validation; see errors.",
        errors=[_validation_item(i) for i in items],
    )


async def http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise exc
    code, title = HTTP_CODES.get(exc.status_code, (f"http_{exc.status_code}", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = exc.headers
    if exc.status_code == 404:
        detail = f"No route matches {request.url.path}."
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        detail = f"{request.url.path} accepts {', '.join(allowed)}."
        headers = {"Allow": ", ".join(allowed)}
    return problem_response(request.scope, exc.status_code, code, title, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route on this path accepts (Starlette reports only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def internal_error(scope: Scope) -> Response:
    """The one 500 body: no exception text, SQL or trace, only what lets support find the log."""
    return problem_response(
        scope,
        500,
        "internal_error",
        "Internal error",
        "Something went wrong on our side; quote the request_id when reporting it.",
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"request_id": request.scope.get(REQUEST_ID_KEY)})
    return internal_error(request.scope)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.DomainError, domain_error)
    app.add_exception_handler(e.ServiceUnavailable, service_unavailable)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
