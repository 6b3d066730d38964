"""The FastAPI application factory (uvicorn: `crm.entrypoints.api.app:create_app`, factory mode)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from crm import bootstrap
from crm.domain.model.blobs import DEFAULT_MAX_UPLOAD_BYTES
from crm.entrypoints.api import docs, errors, local_files
from crm.entrypoints.api.auth import principal_cache
from crm.entrypoints.api.cors import Cors
from crm.entrypoints.api.gateway import Gateway
from crm.entrypoints.api.idempotency import Idempotency
from crm.entrypoints.api.route_table import RouteTable
from crm.entrypoints.api.routers import (
    api_keys,
    attachments,
    batch,
    channels,
    chats,
    companies,
    company_links,
    contacts,
    custom_fields,
    deals,
    devices,
    events,
    health,
    imports,
    invitations,
    merges,
    notes,
    pipelines,
    search,
    tags,
    tasks,
    timeline,
    webhooks,
    whatsapp_webhook,
    workspaces,
)
from crm.entrypoints.http_server import ON_SERVER_SHUTDOWN
from crm.settings import Settings

DESCRIPTION = """A multi-tenant CRM API for sales teams' mobile and web apps.

Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code` and
the `request_id`. Lists use cursor pagination (`limit`, `cursor` → `next_cursor`).
Authenticate with a workspace API key (`Authorization: Bearer crm_sk_...`) or, for people
signed in to the apps, a Firebase ID token plus `X-Workspace-ID` naming the workspace."""


def create_app(container: bootstrap.Container | None = None) -> FastAPI:
    """Build the app; its lifespan opens and closes the container's resources."""
    if container is None:
        container = bootstrap.build(Settings())
    settings = container.settings
    wired = container

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await wired.start()
        # Everything built so far lives as long as the process: move it out of the
        # collector's sight, so full collections stay short and do not stall requests.
        gc.collect()
        gc.freeze()
        try:
            # The server calls this as its graceful shutdown begins: open event streams end
            # then, instead of holding the shutdown until they close by themselves.
            yield {ON_SERVER_SHUTDOWN: wired.stream_events.close_all}
        finally:
            wired.stream_events.close_all()
            await wired.stop()

    app = FastAPI(
        title="CRM API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # docs.install serves it, with this deployment in `servers`
        # FastAPI's OpenTelemetry hook costs a provider lookup per request; we export none.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    # A stream authenticates once, when it opens: it ends when its key or member changes.
    container.credentials.subscribe(container.stream_events.credentials_changed)
    errors.install(app)
    # Routes join the app's own list: an included router is matched through an extra layer
    # of FastAPI's routing on every request.
    # In the order Swagger UI shows them: the records, their schema, then the workspace.
    routers = [contacts, company_links, companies, deals, notes, attachments, tasks, pipelines]
    routers += [custom_fields]
    routers += [batch]
    routers += [merges]
    routers += [search]
    routers += [tags, imports]
    routers += [timeline, events, chats]
    routers += [workspaces, invitations, api_keys, webhooks, devices, channels, whatsapp_webhook]
    routers += [health]
    for router in (module.build(container) for module in routers):
        app.router.routes.extend(router.routes)
    if container.signed_files is not None:
        local_files.mount_local_files(app, container.signed_files)
    docs.install(app, settings.public_url)
    table = RouteTable(app.router.routes, app.router.default)
    app.router.default = table.not_found
    app.add_middleware(
        Gateway,
        auth=principal_cache(container),
        limiter=container.rate_limiter,
        max_body_bytes=settings.max_body_bytes,
        # Inside the gateway, which authenticates first: keys are scoped to the credential.
        wrap_posts=lambda inner: Idempotency(inner, store=container.idempotency),
        body_limits={
            "/v1/imports": settings.import_max_bytes,
            "/v1/files/": DEFAULT_MAX_UPLOAD_BYTES + local_files.FORM_OVERHEAD,
        },
        misrouted=table.refusal,
    )
    if settings.cors_origins:
        app.add_middleware(Cors, origins=settings.cors_origins, document=app.openapi)
    return app
