"""Start the two servers under test as subprocesses on free local ports, and stop them."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"


@dataclass
class Server:
    name: str
    port: int
    headers: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def cpu_seconds(server: Server) -> float:
    """User + system CPU time of the server process so far (Linux /proc)."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _spawn(
    name: str, cmd: list[str], env: dict[str, str], headers: dict[str, str], port: int, logs: Path
) -> Server:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=BENCH_DIR.parent
    )
    return Server(name, port, headers, proc, log_path, log)


def start_raw(
    workspace_id: str, dsn: str, pool_size: int, env: dict[str, str], logs: Path
) -> Server:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "raw_app:app",
        f"--app-dir={BENCH_DIR}",
        f"--host={HOST}",
        f"--port={port}",
        "--loop=uvloop",
        "--http=httptools",
        "--workers=1",
        "--no-access-log",
        "--log-level=warning",
    ]
    raw_env = {
        **env,
        "RAW_WORKSPACE_ID": workspace_id,
        "RAW_DATABASE_URL": dsn,
        "RAW_POOL_SIZE": str(pool_size),
    }
    return _spawn("raw", cmd, raw_env, {}, port, logs)


def start_ours(api_key: str, pool_size: int, env: dict[str, str], logs: Path) -> Server:
    port = free_port()
    crm = Path(sys.executable).parent / "crm"
    cmd = [str(crm), "serve", f"--host={HOST}", f"--port={port}"]
    ours_env = {**env, "CRM_DATABASE_POOL_SIZE": str(pool_size)}
    headers = {"Authorization": f"Bearer {api_key}"}
    return _spawn("ours", cmd, ours_env, headers, port, logs)


def request(
    server: Server, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    """One request to the server (always on 127.0.0.1), returning status and body."""
    headers = dict(server.headers)
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(HOST, server.port, timeout=timeout)
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    """Poll `path` until it answers 200; fail early if the process died or refuses us."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited ({server.proc.returncode}); see {server.log_path}"
            )
        try:
            status, body = request(server, "GET", path, timeout=2)
        except OSError as e:
            last = str(e)
        else:
            if status == 200:
                return
            last = f"HTTP {status}: {body[:300]!r}"
            if status in (401, 403):
                break
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} not ready at {path}: {last} (log: {server.log_path})")
