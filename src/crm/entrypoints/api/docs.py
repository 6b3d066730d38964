"""Swagger UI and ReDoc served from bundled assets (no CDN), and the OpenAPI post-processing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from crm.entrypoints.api.problems import PROBLEM_MEDIA_TYPE

STATIC = Path(fastapi_offline.__file__).parent / "static"
PUBLIC_OPERATIONS = {"getHealth", "getReadiness"}
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A workspace API key: `Authorization: Bearer crm_sk_...`",
}


def install(app: FastAPI) -> None:
    app.mount("/docs/static", StaticFiles(directory=STATIC), name="docs-static")

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


def _polish(doc: dict[str, Any]) -> dict[str, Any]:
    """Bearer auth on every operation but the probes; problems as application/problem+json."""
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = SECURITY_SCHEME
    doc["security"] = [{"apiKey": []}]
    for item in doc["paths"].values():
        for operation in item.values():
            if operation.get("operationId") in PUBLIC_OPERATIONS:
                operation["security"] = []
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return doc
