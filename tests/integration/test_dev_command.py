"""`crm dev` from nothing: embedded PostgreSQL, migrations, a workspace with demo data kept
across restarts, a live API, and the other commands on the same embedded database.

Starting `crm dev` costs seconds, so one data directory (one cluster) serves the module:
the first start happens once, in a fixture; each test then starts it again as it needs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm.adapters.postgres.embedded import stop_embedded_postgres
from tests.support.api import closed_port

CRM = str(Path(sys.executable).parent / "crm")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}


@dataclass
class Dev:
    base: str
    key: str
    workspace_id: str
    output: list[str]

    def get(self, path: str, key: str | None = None) -> Any:
        auth = {"Authorization": f"Bearer {key or self.key}"}
        response = httpx.get(f"{self.base}{path}", headers=auth, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def wait_for_banner(process: subprocess.Popen[str], deadline: float) -> list[str]:
    assert process.stdout is not None
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if re.search(r"API key:\s+crm_sk_\S+", line):
            return seen
    raise AssertionError("crm dev printed no API key:\n" + "".join(seen))


def wait_until_serving(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"crm dev never answered on {base}")


@contextmanager
def crm_dev(cwd: Path, *args: str) -> Iterator[Dev]:
    """`crm dev` running in `cwd` until the block ends, then stopped with Ctrl-C (SIGINT)."""
    port = closed_port()
    process = subprocess.Popen(  # noqa: S603
        [CRM, "dev", "--port", str(port), *args],
        cwd=cwd,
        env=CLEAN_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        banner = wait_for_banner(process, deadline)
        wait_until_serving(base, deadline)
        text = "".join(banner)
        key = re.search(r"API key:\s+(crm_sk_\S+)", text)
        workspace = re.search(r"Workspace:\s+(\S+)", text)
        assert key is not None, text
        assert workspace is not None, text
        yield Dev(base, key.group(1), workspace.group(1), banner)
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "Traceback" not in rest, rest


def crm(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [CRM, *args], cwd=cwd, env=CLEAN_ENV, capture_output=True, text=True, timeout=120
    )


def crm_at_once(cwd: Path, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Run the commands side by side (each spends seconds importing): exit code, out, err."""
    running = [
        subprocess.Popen(  # noqa: S603
            [CRM, *args],
            cwd=cwd,
            env=CLEAN_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    outputs = [p.communicate(timeout=120) for p in running]
    return [(p.returncode, out, err) for p, (out, err) in zip(running, outputs, strict=True)]


def postmaster_running(cwd: Path) -> bool:
    pid_file = cwd / ".crm" / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class FirstStart:
    cwd: Path
    dev: Dev
    counts: dict[str, int]
    contact_id: str


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstStart]:
    """The first start in a fresh directory: what it made, and one contact added to it."""
    cwd = tmp_path_factory.mktemp("dev")
    try:
        with crm_dev(cwd) as dev:
            pipeline = dev.get("/v1/pipelines")["data"][0]
            summary = dev.get(f"/v1/pipelines/{pipeline['id']}/summary")
            counts = {
                "contacts": len(dev.get("/v1/contacts?limit=200")["data"]),
                "companies": len(dev.get("/v1/companies?limit=200")["data"]),
                "tags": len(dev.get("/v1/tags?limit=200")["data"]),
                "custom_fields": len(dev.get("/v1/custom-fields")["data"]),
                "deals": len(dev.get("/v1/deals?limit=200")["data"]),
                "tasks": len(dev.get("/v1/tasks?limit=200")["data"]),
                "done_tasks": len(dev.get("/v1/tasks?limit=200&status=done")["data"]),
                "stages_with_deals": sum(1 for s in summary["stages"] if s["deal_count"] > 0),
                "stages": len(pipeline["stages"]),
            }
            auth = {"Authorization": f"Bearer {dev.key}"}
            made = httpx.post(f"{dev.base}/v1/contacts", json={"first_name": "Zed"}, headers=auth)
            assert made.status_code == 201, made.text
        yield FirstStart(cwd, dev, counts, made.json()["id"])
    finally:
        stop_embedded_postgres(cwd / ".crm")


def test_the_first_start_makes_a_workspace_full_of_demo_data(first: FirstStart) -> None:
    assert "new, with demo data: 6 companies, 50 contacts, 14 deals" in "".join(first.dev.output)
    assert first.counts == {
        "contacts": 50,
        "companies": 6,
        "tags": 4,
        "custom_fields": 1,
        "deals": 14,
        "tasks": 12,
        "done_tasks": 3,
        "stages_with_deals": first.counts["stages"],
        "stages": 7,
    }
    assert (first.cwd / ".crm" / "pgdata" / "PG_VERSION").exists()
    saved = first.cwd / ".crm" / "dev.json"
    assert json.loads(saved.read_text())["workspace_id"] == first.dev.workspace_id
    assert saved.stat().st_mode & 0o777 == 0o600
    assert not postmaster_running(first.cwd), "Ctrl-C left the embedded server running"


def test_a_restart_keeps_the_workspace_the_key_and_the_data(first: FirstStart) -> None:
    with crm_dev(first.cwd) as again:
        assert (again.workspace_id, again.key) == (first.dev.workspace_id, first.dev.key)
        assert "as you left it" in "".join(again.output)
        contacts = again.get("/v1/contacts?limit=200")["data"]
        assert len(contacts) == 51  # the demo data once, and the contact added before
        assert again.get(f"/v1/contacts/{first.contact_id}")["first_name"] == "Zed"


def test_commands_use_the_embedded_database_while_crm_dev_runs(first: FirstStart) -> None:
    with crm_dev(first.cwd) as dev:
        ws = dev.workspace_id
        made, listed, *others = crm_at_once(
            first.cwd,
            ["apikey", "create", "--workspace", ws, "--name", "ci"],
            ["workspace", "list", "--json"],
            ["workspace", "create", "Other", "--json"],
            ["migrate"],
            ["idempotency", "purge"],
        )
        for code, out, err in (made, listed, *others):
            assert code == 0, (out, err)
        [row] = [w for w in json.loads(listed[1]) if w["id"] == ws]
        assert row["name"] == "Demo workspace"
        assert row["members"] == 0
        key = re.search(r"api_key: (crm_sk_\S+)", made[1])
        key_id = re.search(r"api_key_id: (\S+)", made[1])
        assert key is not None, made
        assert key_id is not None, made
        assert len(dev.get("/v1/contacts?limit=5", key.group(1))["data"]) == 5
        revoked = crm(first.cwd, "apikey", "revoke", key_id.group(1), "--workspace", ws)
        assert revoked.returncode == 0, revoked.stderr
        # crm dev has no Redis to carry the revocation to its server process, so the server
        # stops accepting the key when its cached caller expires (CRM_AUTH_CACHE_TTL_SECONDS).
        assert _refused_within(dev.base, key.group(1), seconds=AUTH_CACHE_TTL + 2)
        assert postmaster_running(first.cwd)
    assert not postmaster_running(first.cwd)


def test_commands_start_the_embedded_database_when_crm_dev_is_not_running(
    first: FirstStart,
) -> None:
    assert not postmaster_running(first.cwd)
    listed = crm(first.cwd, "workspace", "list")
    assert listed.returncode == 0, listed.stderr
    assert first.dev.workspace_id in listed.stdout
    assert re.search(r"created \(UTC\)\s+members\s+keys\s+name", listed.stdout), listed.stdout
    assert not postmaster_running(first.cwd), "the command left its server running"


def test_empty_makes_a_workspace_without_demo_data(first: FirstStart) -> None:
    saved = first.cwd / ".crm" / "dev.json"
    remembered = saved.read_text()
    saved.unlink()  # as if this directory had never run crm dev: its database stays
    try:
        with crm_dev(first.cwd, "--empty") as dev:
            assert dev.workspace_id != first.dev.workspace_id
            assert "new, empty" in "".join(dev.output)
            assert dev.get("/v1/contacts")["data"] == []
            assert dev.get("/v1/companies")["data"] == []
    finally:
        saved.write_text(remembered)


AUTH_CACHE_TTL = 5.0


def _refused_within(base: str, key: str, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = httpx.get(f"{base}/v1/contacts", headers={"Authorization": f"Bearer {key}"})
        if answer.status_code == 401:
            return True
        time.sleep(0.25)
    return False
