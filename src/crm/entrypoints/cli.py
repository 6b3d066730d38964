"""The `crm` command: serve, dev, migrate and admin commands."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID

import typer
import uvicorn

from crm import bootstrap
from crm.domain.errors import DomainError
from crm.domain.model.permissions import Scope
from crm.domain.use_cases.create_workspace import CreatedWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.manage_api_keys import CreateApiKeyCommand, RevokeApiKeyCommand
from crm.entrypoints import dev as dev_workspace
from crm.entrypoints import worker
from crm.entrypoints.api import logs
from crm.settings import Settings

T = TypeVar("T")
APP_FACTORY = "crm.entrypoints.api.app:create_app"
# httptools with a cap on the request line + headers (CRM_MAX_HEADER_BYTES); see its module.
HTTP_PROTOCOL = "crm.entrypoints.http_server:HeadLimitedHttpToolsProtocol"

app = typer.Typer(help="CRM API service and administration.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
apikey_app = typer.Typer(help="Workspace API keys.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(apikey_app, name="apikey")
idempotency_app = typer.Typer(help="Idempotency keys.", no_args_is_help=True)
app.add_typer(idempotency_app, name="idempotency")
sdk_app = typer.Typer(help="Client SDKs generated from the OpenAPI document.", no_args_is_help=True)
app.add_typer(sdk_app, name="sdk")
worker.register(app)  # worker (and its dlq), aws, outbox

Host = Annotated[str, typer.Option(help="Interface to bind")]
Port = Annotated[int, typer.Option(help="TCP port")]


def _settings() -> Settings:
    """The settings with a database: CRM_DATABASE_URL, else the embedded one of `crm dev`."""
    settings = Settings()
    url = bootstrap.existing_database_url(settings)
    if url is None:
        raise typer.BadParameter(
            "Set CRM_DATABASE_URL, or run `crm dev` here first: without the variable, "
            f"commands use its embedded database (in {settings.data_dir}/pgdata)."
        )
    return settings.model_copy(update={"database_url": url})


def _run(action: Callable[[bootstrap.Container], Awaitable[T]]) -> T:
    """Run one use case against the configured storage, then release it."""
    settings = _settings()

    async def main() -> T:
        container = bootstrap.build(settings)
        await container.start()
        try:
            return await action(container)
        finally:
            await container.stop()

    try:
        return asyncio.run(main())
    except DomainError as e:
        typer.echo(f"error: {e.detail}", err=True)
        raise typer.Exit(1) from None


def _serve(host: str, port: int, workers: int) -> None:
    settings = Settings()
    logs.configure(settings.log_level, json=settings.log_json)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=HTTP_PROTOCOL,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        access_log=False,
        log_config=None,
    )


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API with uvicorn (uvloop + httptools) on the configured services."""
    _serve(host, port, workers)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Revert to the revision")] = False,
) -> None:
    """Apply the database migrations (CRM_DATABASE_URL, else `crm dev`'s embedded database)."""
    url = _settings().database_url
    assert url is not None  # noqa: S101 - _settings found one
    bootstrap.migrate(url, revision, down=down)
    typer.echo(f"migrated {'down' if down else 'up'} to {revision}")


@app.command()
def dev(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    empty: Annotated[
        bool, typer.Option("--empty", help="Make the workspace without demo data")
    ] = False,
) -> None:
    """Zero-config local run: embedded PostgreSQL unless CRM_DATABASE_URL is set; one workspace
    kept across restarts (demo data on its first start) and a working API key."""
    settings = Settings()
    url = bootstrap.database_url(settings)
    # `crm serve`'s app factory and `_run` read the database from the environment.
    os.environ["CRM_DATABASE_URL"] = url
    bootstrap.migrate(url)
    found = _run(lambda c: dev_workspace.open_dev_workspace(c, settings.data_dir, fill=not empty))
    base = f"http://{host}:{port}"
    typer.echo(dev_workspace.banner(found, base, _describe(settings), settings.data_dir))
    os.environ.setdefault("CRM_WORKER_IN_PROCESS", "true")  # relay + consumers beside the API
    os.environ.setdefault("CRM_FILES_URL", base)  # the app serves the local store's links
    _serve(host, port, 1)


@idempotency_app.command("purge")
def idempotency_purge() -> None:
    """Forget idempotency keys older than the retention (CRM_IDEMPOTENCY_RETENTION_HOURS)."""

    async def purge(c: bootstrap.Container) -> int:
        return await c.idempotency.purge(datetime.now(UTC))

    typer.echo(f"purged {_run(purge)} expired idempotency keys")


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="Where to write the document")] = Path("openapi.json"),
) -> None:
    """Write the OpenAPI document (the reviewed contract, openapi.json at the repo root)."""
    out.write_text(openapi_text())
    typer.echo(f"wrote {out}")


def openapi_text() -> str:
    """The app's OpenAPI document as committed: sorted keys, two-space indent, final newline."""
    from crm.entrypoints.api.app import create_app

    settings = Settings(_env_file=None, database_url=None, redis_url=None)
    container = bootstrap.build(settings, storage=bootstrap.memory_storage())
    return json.dumps(create_app(container).openapi(), indent=2) + "\n"


@sdk_app.command("kotlin")
def sdk_kotlin(
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("sdk/kotlin"),
    spec: Annotated[Path, typer.Option(help="OpenAPI document")] = Path("openapi.json"),
) -> None:
    """Generate the Kotlin client with openapi-generator (needs Java 17+)."""
    from crm.entrypoints import sdk

    try:
        sdk.generate_kotlin(spec, out)
    except sdk.SdkGenerationError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote the Kotlin SDK to {out}")


def _describe(settings: Settings) -> str:
    if settings.database_url is None:
        return f"embedded in {settings.data_dir}/pgdata"
    return "from CRM_DATABASE_URL"


@workspace_app.command("create")
def workspace_create(
    name: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False
) -> None:
    """Create a workspace and print its first API key (shown once)."""
    created: CreatedWorkspace = _run(
        lambda c: c.create_workspace.execute(CreateWorkspaceCommand(name))
    )
    if as_json:
        out = {"workspace_id": str(created.workspace.id), "api_key": created.secret}
        typer.echo(json.dumps(out))
        return
    typer.echo(f"workspace_id: {created.workspace.id}\napi_key: {created.secret}")
    typer.echo("Store the key now: it is shown once and kept only as a hash.", err=True)


@workspace_app.command("list")
def workspace_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List every workspace: id, created, members, usable API keys, name."""
    found = _run(lambda c: c.list_all_workspaces.execute())
    rows = [
        {
            "id": str(s.workspace.id),
            "name": s.workspace.name,
            "created_at": s.workspace.created_at.isoformat(),
            "members": s.members,
            "api_keys": s.api_keys,
        }
        for s in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'id':36}  {'created (UTC)':16}  members  keys  name")
    for s in found:
        created = s.workspace.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        typer.echo(
            f"{s.workspace.id}  {created}  {s.members:7}  {s.api_keys:4}  {s.workspace.name}"
        )


@apikey_app.command("create")
def apikey_create(
    workspace: Annotated[UUID, typer.Option(help="Workspace id")],
    name: Annotated[str, typer.Option(help="What the key is for")] = "default",
    scope: Annotated[
        list[Scope] | None,
        typer.Option(help="A scope the key carries (repeat it); default: admin"),
    ] = None,
) -> None:
    """Mint another API key for a workspace (shown once)."""
    scopes = frozenset(scope or [Scope.ADMIN])
    key, secret = _run(
        lambda c: c.create_api_key.execute(CreateApiKeyCommand(workspace, name, scopes))
    )
    typer.echo(f"api_key_id: {key.id}\napi_key: {secret}")


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: UUID, workspace: Annotated[UUID, typer.Option(help="Workspace id")]
) -> None:
    """Revoke an API key; API processes stop accepting it within the auth cache TTL."""
    _run(lambda c: c.revoke_api_key.execute(RevokeApiKeyCommand(workspace, key_id)))
    typer.echo(f"revoked {key_id}")


def main() -> None:
    app()
