"""The `crm` command as an operator runs it: a real process on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from crm.adapters.postgres.engine import asyncpg_dsn
from crm.entrypoints.cli import app as cli_app
from tests.support.api import TEST_SECRET

CRM = str(Path(sys.executable).parent / "crm")


def crm(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    # Never the repository's own .crm: a developer's `crm dev` database may live there.
    with tempfile.TemporaryDirectory() as data_dir:
        return subprocess.run(  # noqa: S603
            [CRM, *args],
            env={**clean, "CRM_DATA_DIR": data_dir, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


async def test_migrate_then_create_a_workspace_and_revoke_a_key(empty_database_url: str) -> None:
    env = {"CRM_DATABASE_URL": empty_database_url, "CRM_SECRET_KEY": TEST_SECRET}
    migrated = crm("migrate", **env)
    assert migrated.returncode == 0, migrated.stderr
    made = crm("workspace", "create", "Acme Ltd", "--json", **env)
    assert made.returncode == 0, made.stderr
    out: dict[str, Any] = json.loads(made.stdout)
    assert out["api_key"].startswith("crm_sk_")
    conn = await asyncpg.connect(asyncpg_dsn(empty_database_url))
    try:
        ws = await conn.fetchrow(
            "SELECT name FROM workspace WHERE id = $1", _uuid(out["workspace_id"])
        )
        assert ws is not None
        assert ws["name"] == "Acme Ltd"
        stages = await conn.fetch(
            "SELECT s.name, s.kind FROM pipeline p JOIN pipeline_stage s ON s.pipeline_id = p.id"
            " WHERE p.workspace_id = $1 AND p.is_default ORDER BY s.position",
            _uuid(out["workspace_id"]),
        )
        assert [(r["name"], r["kind"]) for r in stages][-2:] == [
            ("Closed won", "won"),
            ("Closed lost", "lost"),
        ]
        assert len(stages) == 7
        key_id = await conn.fetchval(
            "SELECT id FROM api_key WHERE workspace_id = $1", ws_id := _uuid(out["workspace_id"])
        )
        revoked = crm("apikey", "revoke", str(key_id), "--workspace", str(ws_id), **env)
        assert revoked.returncode == 0, revoked.stderr
        assert await conn.fetchval(
            "SELECT revoked_at IS NOT NULL FROM api_key WHERE id = $1", key_id
        )
    finally:
        await conn.close()


ID = "0190c2a0-0000-7000-8000-000000000000"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """The `crm` command in this process (no seconds of imports per run), in an empty
    directory with no CRM_ variable but those given."""
    for name in [n for n in os.environ if n.startswith("CRM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env, no .crm of a developer's `crm dev`

    def run(*args: str, **env: str) -> Result:
        return CliRunner().invoke(cli_app, list(args), env=env)

    return run


def test_without_a_database_every_command_says_how_to_get_one(cli: Callable[..., Result]) -> None:
    # Neither CRM_DATABASE_URL nor an embedded database of `crm dev` in the data directory.
    for command in (
        ["workspace", "create", "Acme"],
        ["workspace", "list"],
        ["apikey", "create", "--workspace", ID],
        ["apikey", "revoke", ID, "--workspace", ID],
        ["migrate"],
        ["idempotency", "purge"],
    ):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.output)
        assert "CRM_DATABASE_URL" in result.output, command
        assert "crm dev" in result.output, command


def test_workspace_list_shows_every_workspace_with_its_counts(
    cli: Callable[..., Result], database_url: str
) -> None:
    env = {"CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": TEST_SECRET}
    made = [json.loads(cli("workspace", "create", name, "--json", **env).stdout) for name in "AB"]
    listed = cli("workspace", "list", "--json", **env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["name"], r["members"], r["api_keys"]) for r in rows] == [
        (m["workspace_id"], name, 0, 1) for m, name in zip(made, "AB", strict=True)
    ]
    table = cli("workspace", "list", **env).stdout.splitlines()
    assert table[0].split() == ["id", "created", "(UTC)", "members", "keys", "name"]
    assert [line.split()[0] for line in table[1:]] == [m["workspace_id"] for m in made]


def test_an_unknown_workspace_is_a_clear_error(database_url: str) -> None:
    env = {"CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": TEST_SECRET}
    result = crm("apikey", "create", "--workspace", "0190c2a0-0000-7000-8000-000000000000", **env)
    assert result.returncode == 1
    assert "No workspace" in result.stderr


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


async def test_idempotency_purge_forgets_only_expired_keys(
    database_url: str, db: asyncpg.Connection
) -> None:
    ws = _uuid("0190c2a0-0000-7000-8000-000000000001")
    await db.execute("INSERT INTO workspace (id, name, created_at) VALUES ($1, 'Acme', now())", ws)
    for name, age in (("old", timedelta(hours=25)), ("fresh", timedelta(hours=1))):
        await db.execute(
            "INSERT INTO idempotency_key (workspace_id, credential_id, key, fingerprint, status,"
            " headers, body, created_at)"
            " VALUES ($1, $1, $2, 'f', 201, '[]', 'b', now() - $3::interval)",
            ws,
            name,
            age,
        )
    env = {"CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": TEST_SECRET}
    result = crm("idempotency", "purge", **env)
    assert result.returncode == 0, result.stderr
    assert "purged 1 " in result.stdout
    assert [r["key"] for r in await db.fetch("SELECT key FROM idempotency_key")] == ["fresh"]
