"""`crm dev`'s workspace, kept across restarts: its id and API key live in `<data dir>/dev.json`.

Each start prints the same key while it still authenticates, so a key pasted into Swagger UI,
a `.env` or an app survives restarts. A key that no longer works (revoked, expired, or
hashed under another CRM_SECRET_KEY) is replaced by a fresh one named "crm dev". A workspace
the database no longer has (a wiped data directory, another CRM_DATABASE_URL) is made again,
filled with the demo data unless asked for an empty one. The file is readable by its owner
only and sits beside the embedded database, which trusts local connections anyway.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import UUID

from crm.bootstrap import Container
from crm.domain.errors import DomainError, WorkspaceNotFound
from crm.domain.model.permissions import Scope
from crm.domain.use_cases.create_workspace import CreateWorkspaceCommand
from crm.domain.use_cases.manage_api_keys import CreateApiKeyCommand
from crm.entrypoints import demo

DEV_FILE = "dev.json"
KEY_NAME = "crm dev"
WORKSPACE_NAME = "Demo workspace"


@dataclass(frozen=True, slots=True)
class DevWorkspace:
    workspace_id: UUID
    name: str
    api_key: str
    state: str = "kept"
    """`created` this start, `kept` (workspace and key as before) or `new key`."""
    demo: demo.DemoData | None = None


async def open_dev_workspace(c: Container, data_dir: Path, *, fill: bool = True) -> DevWorkspace:
    """The workspace of earlier starts with a working key, else a new one (with demo data
    when `fill`); remembered in `data_dir/dev.json`."""
    saved = load(data_dir)
    found = None if saved is None else await _reopen(c, saved)
    if found is None:
        found = await _create(c, fill=fill)
    # Saved once the demo data is in: a start interrupted while filling leaves a workspace
    # the next start does not pick up half-filled (it makes a new one).
    save(data_dir, found)
    return found


async def _reopen(c: Container, saved: DevWorkspace) -> DevWorkspace | None:
    if await _works(c, saved):
        return replace(saved, state="kept")
    cmd = CreateApiKeyCommand(saved.workspace_id, KEY_NAME, frozenset({Scope.ADMIN}))
    try:
        _, secret = await c.create_api_key.execute(cmd)
    except WorkspaceNotFound:
        return None
    return replace(saved, api_key=secret, state="new key")


async def _works(c: Container, saved: DevWorkspace) -> bool:
    try:
        caller = await c.authenticate.execute(saved.api_key)
    except DomainError:
        return False
    return caller.principal is not None and caller.principal.workspace_id == saved.workspace_id


async def _create(c: Container, *, fill: bool) -> DevWorkspace:
    made = await c.create_workspace.execute(CreateWorkspaceCommand(WORKSPACE_NAME, KEY_NAME))
    assert made.api_key is not None  # noqa: S101 - a key name was given
    assert made.secret is not None  # noqa: S101
    data = await demo.fill(c, made.api_key.principal()) if fill else None
    return DevWorkspace(made.workspace.id, made.workspace.name, made.secret, "created", data)


def load(data_dir: Path) -> DevWorkspace | None:
    """What `dev.json` remembers; None when it is missing or unreadable."""
    try:
        raw = json.loads((data_dir / DEV_FILE).read_text())
        return DevWorkspace(UUID(raw["workspace_id"]), str(raw["name"]), str(raw["api_key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(data_dir: Path, found: DevWorkspace) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DEV_FILE
    text = json.dumps(
        {"workspace_id": str(found.workspace_id), "name": found.name, "api_key": found.api_key},
        indent=2,
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    path.chmod(0o600)  # an older file may have been laxer


def banner(found: DevWorkspace, base_url: str, database: str, data_dir: Path) -> str:
    """What `crm dev` prints before serving."""
    workspace = {
        "kept": "as you left it",
        "new key": "as you left it",
        "created": "new, empty" if found.demo is None else f"new, with {_described(found.demo)}",
    }[found.state]
    key_note = {
        "kept": f"the same every start; kept in {data_dir / DEV_FILE}",
        "new key": f"new: the previous one no longer works; kept in {data_dir / DEV_FILE}",
        "created": f"kept in {data_dir / DEV_FILE} for the next starts",
    }[found.state]
    return (
        f"\nCRM API (dev) on the database {database}\n"
        f"  Swagger UI:  {base_url}/docs\n"
        f"  Workspace:   {found.workspace_id} ({found.name}), {workspace}\n"
        f"  API key:     {found.api_key}   ({key_note})\n\n"
        f"  curl -H 'Authorization: Bearer {found.api_key}' {base_url}/v1/contacts\n"
    )


def _described(data: demo.DemoData) -> str:
    return (
        f"demo data: {data.companies} companies, {data.contacts} contacts, {data.deals} deals, "
        f"{data.notes} notes, {data.tasks} tasks"
    )
