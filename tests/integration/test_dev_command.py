"""`crm dev` from nothing: embedded PostgreSQL, migrations, a demo workspace and a live API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from crm.adapters.postgres.embedded import stop_embedded_postgres
from tests.support.api import closed_port

CRM = str(Path(sys.executable).parent / "crm")


def wait_for_key(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if match := re.search(r"API key:\s+(crm_sk_\S+)", line):
            return match.group(1)
    raise AssertionError("crm dev printed no API key:\n" + "".join(seen))


def wait_until_serving(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"crm dev never answered on {base}")


def test_crm_dev_runs_with_no_configuration(tmp_path: Path) -> None:
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    process = subprocess.Popen(  # noqa: S603
        [CRM, "dev", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        key = wait_for_key(process, deadline)
        wait_until_serving(base, deadline)
        auth = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{base}/v1/contacts", json={"first_name": "Ada"}, headers=auth)
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}/v1/contacts", headers=auth).json()
        assert [c["id"] for c in listed["data"]] == [created.json()["id"]]
        assert httpx.get(f"{base}/docs").status_code == 200
        assert (tmp_path / ".crm" / "pgdata" / "PG_VERSION").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
        stop_embedded_postgres(tmp_path / ".crm")
