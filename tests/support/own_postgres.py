"""A PostgreSQL cluster of the test's own, to stall, stop and start: never the shared server."""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import free_port


@functools.cache
def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError(
            "These tests start a PostgreSQL cluster of their own and need initdb and pg_ctl "
            "(/usr/lib/postgresql/<version>/bin, package postgresql on Debian)."
        )
    return Path(found[-1]).parent


def _as_owner() -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` system user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise RuntimeError("Running as root, these tests need a `postgres` system user.") from e
    return ["runuser", "-u", "postgres", "--"]


class OwnPostgres:
    """initdb'd into a temporary directory, listening on 127.0.0.1 at a free port (trust)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="crm-own-pg-"))
        self.pgdata = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._tool("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-N")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _tool(self, name: str, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - fixed binaries, arguments of our own
            [*_as_owner(), str(_bin_dir() / name), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c max_connections=60"
        )
        log = str(self.root / "log")
        self._tool("pg_ctl", "start", "-w", "-D", str(self.pgdata), "-l", log, "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast|immediate|smart`, waiting until the server is gone."""
        self._tool("pg_ctl", "stop", "-w", "-D", str(self.pgdata), "-m", mode)

    def _postmaster(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])

    def _children(self, postmaster: int) -> list[int]:
        """Every process the postmaster forked (backends, checkpointer ...)."""
        procs = Path("/proc").glob("[0-9]*")
        return [int(proc.name) for proc in procs if _parent_of(proc) == postmaster]

    def stall(self) -> None:
        """SIGSTOP the whole server: connections stay open and nothing ever answers."""
        postmaster = self._postmaster()
        os.kill(postmaster, signal.SIGSTOP)  # first: it forks nothing new from here on
        _signal(self._children(postmaster), signal.SIGSTOP)

    def resume(self) -> None:
        postmaster = self._postmaster()
        _signal(self._children(postmaster), signal.SIGCONT)
        os.kill(postmaster, signal.SIGCONT)

    def destroy(self) -> None:
        try:
            self.resume()
            self.stop("immediate")
        except (OSError, ValueError, RuntimeError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _parent_of(proc: Path) -> int | None:
    try:
        # /proc/<pid>/stat: "pid (comm) state ppid ...", and comm may hold spaces.
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # a backend that just ended
            os.kill(pid, sig)
