"""Swagger UI and ReDoc served from bundled assets (no CDN), and the OpenAPI post-processing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
import orjson
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import Response

from crm.entrypoints.api.problems import PROBLEM_MEDIA_TYPE
from crm.entrypoints.api.schemas.shared import COMPONENTS

STATIC = Path(fastapi_offline.__file__).parent / "static"
PUBLIC_OPERATIONS = {"getHealth", "getReadiness"}
# Meta calls these: its verify token and its signature authenticate it, not an API key.
PUBLIC_OPERATIONS |= {"verifyWhatsAppWebhook", "receiveWhatsAppNotification"}
# A signed-in person calls these without naming a workspace.
PERSONAL_OPERATIONS = {"createWorkspace", "listWorkspaces", "getWorkspace", "acceptInvitation"}
PERSONAL_OPERATIONS |= {"registerDevice", "listDevices", "getDevice", "deleteDevice"}
PERSONAL_OPERATIONS |= {"getNotificationSettings", "updateNotificationSettings"}
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "A workspace API key (`crm_sk_...`, acting with its scopes in its own workspace) or a "
        "Firebase ID token of a signed-in person (acting with their role in the workspace "
        "`X-Workspace-ID` names)."
    ),
}
WORKSPACE_HEADER = {
    "name": "X-Workspace-ID",
    "in": "header",
    "required": False,
    "description": (
        "The workspace a signed-in person acts in (required for people; `GET /v1/workspaces` "
        "lists theirs). API keys act in their own workspace; naming another one is a 404. "
        "A value that is not a UUID (8-4-4-4-12 hex digits) is a 422 for every caller."
    ),
    "schema": {"type": "string", "format": "uuid"},
}
NOT_FOUND = {
    "description": "Not found in the caller's workspace (or X-Workspace-ID names a workspace "
    "you are not a member of)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


# The committed document names no deployment: a relative URL is the origin the document is
# served from (OpenAPI 3.1, section 4.8.5). Served live, it names CRM_PUBLIC_URL or the origin
# the request came to.
RELATIVE_SERVER = {
    "url": "/",
    "description": "The origin this document is served from (GET /openapi.json of a "
    "deployment names it); give an SDK your deployment's URL",
}
_SERVER_MARK = "\0server\0"


def install(app: FastAPI, public_url: str | None = None) -> None:
    """/docs, /redoc, /openapi.json (with the deployment in `servers`), and / redirecting to
    /docs."""
    app.mount("/docs/static", StaticFiles(directory=STATIC), name="docs-static")

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "") + "/docs", status_code=307)

    served: list[bytes] = []

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request) -> Response:
        if not served:
            served.extend(_split_at_server(app.openapi()))
        url = (public_url or str(request.base_url)).rstrip("/")
        return Response(served[0] + orjson.dumps(url) + served[1], media_type="application/json")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url="/docs/static/redoc.standalone.js",
            redoc_favicon_url="/docs/static/favicon.png",
            with_google_fonts=False,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _polish(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _split_at_server(doc: dict[str, Any]) -> tuple[bytes, bytes]:
    """The document's JSON around its server URL, so each request only fills that in."""
    live = {**doc, "servers": [{"url": _SERVER_MARK, "description": "This deployment"}]}
    head, tail = orjson.dumps(live).split(orjson.dumps(_SERVER_MARK), 1)
    return head, tail


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to retry: the same key with the same request within the "
        "retention period (24 hours by default) returns the first successful response again (with "
        "`Idempotent-Replayed: true`) instead of acting twice. The same key with a "
        "different request is `422 idempotency_key_reused`; while the first request "
        "still runs, `409 idempotency_key_in_use`. Use a new UUID per logical request."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "example": "5f1c3c2e-8a4b-4c1e-9a57-2d8f0c6b7e10",
}
REPLAYED_HEADER = {
    "description": "`true` when this is the kept response of an earlier request with the key",
    "schema": {"type": "string", "enum": ["true"]},
}
IDEMPOTENCY_PROBLEMS = {
    "400": "Malformed request, or an Idempotency-Key that is not 1 to 255 visible characters",
    "409": "Conflicts with existing data, or a request with this Idempotency-Key still runs",
    "422": "Validation failed (`errors` names each field), or the Idempotency-Key was used "
    "for a different request",
}


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": (
        'ETags the caller holds, e.g. `"3"`: when one is the current version the answer is '
        '`304 Not Modified` with no body. Compared weakly (RFC 9110): `W/"3"` matches too, '
        "and `*` matches any version."
    ),
    "schema": {"type": "string", "maxLength": 1024},
    "example": '"3"',
}
NOT_MODIFIED_TEXT = "Not modified: If-None-Match names the current version (no body)"
MALFORMED_IF_MATCH = "; `invalid_if_match`: If-Match is not `*` or one entity tag"


def _polish(doc: dict[str, Any]) -> dict[str, Any]:
    """Bearer auth on every operation but the probes; problems as application/problem+json;
    Idempotency-Key on every POST; If-None-Match on reads with an ETag; a relative server."""
    components = doc.setdefault("components", {})
    components.setdefault("securitySchemes", {})["apiKey"] = SECURITY_SCHEME
    components.setdefault("schemas", {}).update(COMPONENTS)
    doc["security"] = [{"apiKey": []}]
    doc["servers"] = [RELATIVE_SERVER]
    for item in doc["paths"].values():
        for method, operation in item.items():
            operation_id = operation.get("operationId")
            if operation_id in PUBLIC_OPERATIONS:
                operation["security"] = []
            elif operation_id not in PERSONAL_OPERATIONS:
                _in_a_workspace(operation)
            if method == "post" and operation_id not in PUBLIC_OPERATIONS:
                _idempotent(operation)
            _conditional(method, operation)
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return doc


def _conditional(method: str, operation: dict[str, Any]) -> None:
    """A read with an ETag takes If-None-Match (304); a write with If-Match documents its 400."""
    responses = operation.setdefault("responses", {})
    etag = responses.get("200", {}).get("headers", {}).get("ETag")
    if method == "get" and etag is not None:
        operation.setdefault("parameters", []).append(IF_NONE_MATCH)
        responses["304"] = {"description": NOT_MODIFIED_TEXT, "headers": {"ETag": etag}}
    names = {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}
    if "if-match" in names:
        problem = {"$ref": "#/components/schemas/Problem"}
        text = responses.get("400", {}).get("description", "Malformed request")
        responses["400"] = {
            "description": text + MALFORMED_IF_MATCH,
            "content": {"application/json": {"schema": problem}},
        }


def _in_a_workspace(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(WORKSPACE_HEADER)
    operation.setdefault("responses", {}).setdefault("404", NOT_FOUND)


def _idempotent(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED_HEADER
    for status, description in IDEMPOTENCY_PROBLEMS.items():
        problem = {"$ref": "#/components/schemas/Problem"}
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": problem}},
        }
