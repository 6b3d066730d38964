"""The TypeScript SDK: generated from openapi.json, compiled with tsc, its journey run live."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crm.adapters.memory.resolver import StaticResolver
from tests.integration.test_webhook_delivery import world_on
from tests.support.live import live_server
from tests.support.webhook_receiver import webhook_receiver

SDK = Path(__file__).resolve().parents[2] / "sdk" / "typescript"
STEPS = ("create", "idempotency keys", "get", "list", "patch", "stale patch", "delete")
NODE_MAJOR = 20
# The suite never skips: a machine without node fails here, saying what to install.
NO_NODE = (
    f"node {NODE_MAJOR}+ and npm are not on PATH: the test suite needs them to build the "
    "TypeScript SDK and run its journey (https://nodejs.org/en/download, or Debian/Ubuntu: "
    "apt-get install nodejs npm, checking that `node --version` says v20 or later)"
)


@pytest.fixture(scope="module")
def built_sdk() -> Path:
    """sdk/typescript with its locked dependencies installed and `npm run build` done."""
    npm = require_node()
    if _stale_node_modules():
        _npm(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", timeout=300)
    _npm(npm, "run", "build", "--silent", timeout=120)
    return SDK / "dist" / "journey.js"


def require_node() -> str:
    """npm's path; fails the test (never skips) when node 20+ or npm is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(NO_NODE)
    version = subprocess.run(  # noqa: S603 - node from PATH
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    major = version.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < NODE_MAJOR:
        pytest.fail(f"{NO_NODE}; found node {version!r}")
    return npm


def test_a_machine_without_node_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"node 20\+ and npm .*apt-get install"):
        require_node()


def _stale_node_modules() -> bool:
    # npm ci writes node_modules/.package-lock.json; older than the lockfile = out of date.
    installed = SDK / "node_modules" / ".package-lock.json"
    lock = SDK / "package-lock.json"
    return not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime


def _npm(npm: str, *args: str, timeout: float) -> None:
    result = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
        [npm, *args], cwd=SDK, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def test_the_journey_runs_against_a_live_server(
    built_sdk: Path, database_url: str, redis_url: str
) -> None:
    node = shutil.which("node") or "node"
    with live_server(database_url, redis_url) as server:
        env = {**os.environ, "CRM_BASE_URL": server.base_url, "CRM_API_KEY": server.api_key}
        result = subprocess.run(  # noqa: S603 - node from PATH, our compiled script
            [node, str(built_sdk)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, output
    for step in STEPS:
        assert f"ok {step}:" in result.stdout, output
    assert "journey complete" in result.stdout, output


async def test_verify_webhook_checks_a_real_delivery(built_sdk: Path, tmp_path: Path) -> None:
    """The SDK's verifyWebhook (compiled with it) on a delivery a real receiver got, signed
    with two secrets after a rotation."""
    world = world_on(StaticResolver())
    with webhook_receiver() as receiver:
        who = await world.workspace()
        sub, old = await world.subscribe(who, url=receiver.url)
        _, new = await world.rotate.execute(who, sub)
        await world.ping.execute(who, sub)
        await world.deliver.execute()
        (got,) = await receiver.wait_for(1)
    await world.sender.close()
    case = tmp_path / "case.json"
    header = got.headers["CRM-Signature"]
    case.write_text(
        json.dumps({"body": got.body.decode(), "header": header, "secret": new, "old_secret": old})
    )
    node = shutil.which("node") or "node"
    result = await asyncio.to_thread(
        subprocess.run,
        [node, str(built_sdk.parent / "webhook_check.js"), str(case)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, output
    assert "ok the rotated-out secret verifies too" in result.stdout, output
    assert "webhook checks complete" in result.stdout, output
