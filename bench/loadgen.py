"""Drive one server with wrk and read its result (the `done()` line of lua/report.lua)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_LINE = re.compile(r"^BENCH_RESULT (\{.*\})$", re.MULTILINE)
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass(frozen=True, slots=True)
class WrkOptions:
    duration: int
    connections: int
    threads: int
    timeout_s: int = 10


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get update && apt-get install -y wrk")
    return path


def build_script(kind: str, out_dir: Path) -> Path:
    """lua/<kind>.lua followed by lua/report.lua (wrk takes a single script)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    script = out_dir / f"{kind}.lua"
    parts = [(LUA_DIR / f"{kind}.lua").read_text(), (LUA_DIR / "report.lua").read_text()]
    script.write_text("\n".join(parts))
    return script


def run_wrk(
    url: str,
    script: Path,
    options: WrkOptions,
    headers: dict[str, str],
    script_args: list[str],
) -> WrkResult:
    cmd = [
        require_wrk(),
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={options.duration}s",
        f"--timeout={options.timeout_s}s",
        "--latency",
        f"--script={script}",
        *(arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")),
        url,
        "--",
        *script_args,
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=options.duration + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse(done.stdout)


def parse(stdout: str) -> WrkResult:
    match = RESULT_LINE.search(stdout)
    if match is None:
        raise RuntimeError(f"no BENCH_RESULT line in the wrk output:\n{stdout}")
    r = json.loads(match.group(1))
    non_2xx = NON_2XX.search(stdout)
    return WrkResult(
        requests=int(r["requests"]),
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        non_2xx=max(int(non_2xx.group(1)) if non_2xx else 0, int(r["err_status"])),
        socket_errors=int(r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]),
    )
