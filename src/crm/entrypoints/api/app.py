"""The FastAPI application factory (uvicorn: `crm.entrypoints.api.app:create_app`, factory mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm import bootstrap
from crm.entrypoints.api import docs, errors
from crm.entrypoints.api.auth import PrincipalCache
from crm.entrypoints.api.gateway import Gateway
from crm.entrypoints.api.routers import contacts, health
from crm.settings import Settings

DESCRIPTION = """A multi-tenant CRM API: contacts, companies, deals and conversations.

Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code` and
the `request_id`. Lists use cursor pagination (`limit`, `cursor` → `next_cursor`).
Authenticate with a workspace API key: `Authorization: Bearer crm_sk_...`."""


def create_app(container: bootstrap.Container | None = None) -> FastAPI:
    """Build the app; its lifespan opens and closes the container's resources."""
    if container is None:
        container = bootstrap.build(Settings())
    settings = container.settings
    wired = container

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await wired.start()
        try:
            yield
        finally:
            await wired.stop()

    app = FastAPI(
        title="CRM API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.container = container
    errors.install(app)
    app.include_router(health.build(container))
    app.include_router(contacts.build(container))
    docs.install(app)
    app.add_middleware(
        Gateway,
        auth=PrincipalCache(container.authenticate.execute, settings.auth_cache_ttl_seconds),
        limiter=container.rate_limiter,
        max_body_bytes=settings.max_body_bytes,
    )
    return app
