"""CORS for browser apps on the origins the settings name (none by default).

What a preflight may ask for is read from the OpenAPI document: every method it lists and
every header parameter of any operation, so a header added to an operation is allowed the
moment it is documented.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from crm.entrypoints.api.gateway import SECURITY_HEADERS, request_id_from
from crm.entrypoints.api.problems import PROBLEM_MEDIA_TYPE, REQUEST_ID_KEY, problem_body

# Read by the gateway on every request rather than documented on each operation.
CROSS_CUTTING_HEADERS = ("X-Request-ID",)
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "Idempotent-Replayed",
    "Content-Disposition",
)
_METHODS = ("get", "put", "post", "patch", "delete")


def documented_methods(doc: dict[str, Any]) -> list[str]:
    found = {m for item in doc["paths"].values() for m in item if m in _METHODS}
    return [m.upper() for m in _METHODS if m in found]


def documented_headers(doc: dict[str, Any]) -> list[str]:
    """Every request header some operation documents, its credentials and body type included."""
    headers = set(CROSS_CUTTING_HEADERS)
    for item in doc["paths"].values():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            headers.update(p["name"] for p in op.get("parameters", []) if p["in"] == "header")
            if op.get("requestBody"):
                headers.add("Content-Type")
    schemes = doc.get("components", {}).get("securitySchemes", {}).values()
    headers.update(_credential_headers(schemes))
    return sorted(headers)


def _credential_headers(schemes: Iterable[dict[str, Any]]) -> set[str]:
    return {
        "Authorization" if s["type"] in ("http", "oauth2", "openIdConnect") else s["name"]
        for s in schemes
        if s["type"] != "apiKey" or s.get("in") == "header"
    }


class Cors(CORSMiddleware):
    """Starlette's CORS, outermost, so browsers can read every answer (401 and 429 included);
    a refused preflight is a problem document like every other error."""

    def __init__(
        self, app: ASGIApp, *, origins: Sequence[str], document: Callable[[], dict[str, Any]]
    ) -> None:
        doc = document()
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=documented_methods(doc),
            allow_headers=documented_headers(doc),
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
