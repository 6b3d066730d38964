"""Aggregate wrk results over rounds and render them as a markdown table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from loadgen import WrkResult

P99_RATIO_MAX = 2.0


@dataclass(frozen=True, slots=True)
class Measured:
    """One wrk run and the CPU time the server process spent during it."""

    result: WrkResult
    cpu_seconds: float

    @property
    def cpu_us_per_request(self) -> float:
        requests = self.result.requests
        return self.cpu_seconds / requests * 1e6 if requests else 0.0


@dataclass(frozen=True, slots=True)
class Summary:
    """One server on one scenario: medians over the rounds, errors summed."""

    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    requests: int
    cpu_us: float  # server CPU time per request (user + system)


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    raw: Summary
    ours: Summary
    min_ratio: float | None  # the throughput target, if the scenario has one

    @property
    def ratio(self) -> float:
        return self.ours.rps / self.raw.rps if self.raw.rps else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.ours.p99_ms / self.raw.p99_ms if self.raw.p99_ms else float("inf")

    @property
    def verdict(self) -> str:
        target = f"≥{self.min_ratio:.2f}x, " if self.min_ratio is not None else ""
        misses = []
        if self.min_ratio is not None and self.ratio < self.min_ratio:
            misses.append("req/s")
        if self.p99_ratio > P99_RATIO_MAX:
            misses.append("p99")
        met = "✅" if not misses else "❌ " + " + ".join(misses)
        return f"{target}p99 ≤{P99_RATIO_MAX:.0f}x: {met}"


def summarize(runs: list[Measured]) -> Summary:
    results = [m.result for m in runs]
    return Summary(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        requests=sum(r.requests for r in results),
        cpu_us=statistics.median(m.cpu_us_per_request for m in runs),
    )


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | raw req/s | ours req/s | ratio | raw p50 | ours p50 | raw p99 | ours p99 "
        "| p99 ratio | target | raw CPU/req | ours CPU/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.label} | {r.raw.rps:,.0f} | {r.ours.rps:,.0f} | {r.ratio:.2f} "
            f"| {_ms(r.raw.p50_ms)} | {_ms(r.ours.p50_ms)} | {_ms(r.raw.p99_ms)} "
            f"| {_ms(r.ours.p99_ms)} | {r.p99_ratio:.2f} | {r.verdict} "
            f"| {r.raw.cpu_us:.0f} µs | {r.ours.cpu_us:.0f} µs |"
        )
    return "\n".join(lines)


def rounds_table(label_results: list[tuple[str, str, int, Measured]]) -> str:
    """Every single wrk run, in the order they ran: scenario, server, round."""
    lines = [
        "| round | scenario | server | req/s | p50 | p99 | max | CPU/req | non-2xx "
        "| socket errors |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, server, round_no, m in label_results:
        r = m.result
        lines.append(
            f"| {round_no} | {label} | {server} | {r.rps:,.0f} | {_ms(r.p50_ms)} "
            f"| {_ms(r.p99_ms)} | {_ms(r.max_ms)} | {m.cpu_us_per_request:.0f} µs "
            f"| {r.non_2xx} | {r.socket_errors} |"
        )
    return "\n".join(lines)


def warnings(rows: list[Row]) -> list[str]:
    """Errors that make a figure worthless (a benchmark of 401s measures nothing)."""
    out = []
    for r in rows:
        for name, s in (("ours", r.ours), ("raw", r.raw)):
            if s.non_2xx:
                out.append(
                    f"{name} answered {s.non_2xx:,} of {s.requests:,} requests with a non-2xx "
                    f"status on '{r.label}': its figures are NOT valid"
                )
            if s.socket_errors:
                out.append(f"{name} had {s.socket_errors:,} socket errors on '{r.label}'")
    return out
