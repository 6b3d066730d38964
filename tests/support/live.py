"""Run the real service as a subprocess (`crm serve`) for clients that need a live HTTP server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

import httpx

from tests.support.api import TEST_SECRET
from tests.support.servers import free_port, stop

STARTUP_TIMEOUT_SECONDS = 20.0


class LiveServer(NamedTuple):
    base_url: str
    api_key: str
    pid: int  # the serving process (one worker): its memory, its signals


@contextmanager
def live_server(database_url: str, redis_url: str) -> Iterator[LiveServer]:
    """`crm serve` on a free port over `database_url` (migrated), with a fresh workspace key."""
    env = _server_env(database_url, redis_url)
    with _started(env) as (base_url, process, workdir, log):
        try:
            # The CLI creates the key while the server boots: both take a second or two.
            api_key = _create_workspace(env, workdir)
            _wait_healthy(process, base_url, log)
            yield LiveServer(base_url, api_key, process.pid)
        finally:
            stop(process)


@contextmanager
def serving(
    database_url: str, redis_url: str, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One more `crm serve` (its base URL and process), healthy; `settings` are extra CRM_*
    variables (`event_stream_heartbeat_seconds="0.2"`). Stopped on leaving unless it ended."""
    env = _server_env(database_url, redis_url)
    env.update({f"CRM_{name.upper()}": value for name, value in settings.items()})
    with _started(env) as (base_url, process, _, log):
        try:
            _wait_healthy(process, base_url, log)
            yield base_url, process
        finally:
            stop(process)


def workspace_key(database_url: str, redis_url: str) -> str:
    """A new workspace's API key, made with `crm workspace create`."""
    with tempfile.TemporaryDirectory(prefix="crm-live-") as workdir:
        return _create_workspace(_server_env(database_url, redis_url), workdir)


@contextmanager
def _started(
    env: dict[str, str],
) -> Iterator[tuple[str, subprocess.Popen[bytes], str, IO[bytes]]]:
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="crm-live-") as workdir,
        tempfile.TemporaryFile() as log,
    ):
        process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [_crm(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        yield f"http://127.0.0.1:{port}", process, workdir, log


def _crm() -> str:
    """The `crm` script installed next to this interpreter (the project's virtualenv)."""
    found = shutil.which("crm", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(f"no `crm` executable next to {sys.executable}: run `uv sync`")
    return found


def _server_env(database_url: str, redis_url: str) -> dict[str, str]:
    # The working directory is empty, so no .env file leaks in; drop inherited CRM_* too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_ENV="test",
        CRM_DATABASE_URL=database_url,
        CRM_REDIS_URL=redis_url,
        CRM_SECRET_KEY=TEST_SECRET,
        CRM_RATE_LIMIT_REQUESTS="10000",
    )
    return env


def _create_workspace(env: dict[str, str], workdir: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        [_crm(), "workspace", "create", "Live test", "--json"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"crm workspace create failed:\n{result.stdout}\n{result.stderr}")
    return str(json.loads(result.stdout)["api_key"])


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    state = (
        f"exited with {process.returncode}"
        if process.poll() is not None
        else f"not healthy after {STARTUP_TIMEOUT_SECONDS:.0f} s"
    )
    log.seek(0)
    output = log.read().decode(errors="replace")[-4000:]
    raise RuntimeError(f"crm serve on {base_url} {state}; its output:\n{output}")
