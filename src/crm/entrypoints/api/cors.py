"""CORS for browser apps on the origins the settings name (none by default)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from crm.entrypoints.api.gateway import SECURITY_HEADERS, request_id_from
from crm.entrypoints.api.problems import PROBLEM_MEDIA_TYPE, REQUEST_ID_KEY, problem_body

ALLOW_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID")
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "Idempotent-Replayed",
)


class Cors(CORSMiddleware):
    """Starlette's CORS, outermost, so browsers can read every answer (401 and 429 included);
    a refused preflight is a problem document like every other error."""

    def __init__(self, app: ASGIApp, *, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=("GET", "POST", "PATCH", "DELETE"),
            allow_headers=ALLOW_HEADERS,
            expose_headers=EXPOSE_HEADERS,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        request_id = request_id_from(None)
        body = problem_body(
            {REQUEST_ID_KEY: request_id},
            400,
            "cors_preflight_refused",
            "The cross-origin request is not allowed",
            f"This preflight asks for a {refused} the API does not allow.",
        )
        headers = {k: v for k, v in response.headers.items() if k.startswith("access-control")}
        headers["X-Request-ID"] = request_id
        headers.update((k.decode(), v.decode()) for k, v in SECURITY_HEADERS)
        return Response(body, 400, headers=headers, media_type=PROBLEM_MEDIA_TYPE)
