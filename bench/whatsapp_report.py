"""The markdown of bench/whatsapp_bench.py: one table of the figures against issue #15
item 7's targets, and notes (statuses, CPU per process, what was checked)."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def cpu(parts: dict[str, float], count: int) -> str:
    shown = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items())
    total = sum(parts.values())
    return f"{shown}; total {total:.1f} s = {1000 * total / count:.2f} ms per message"


def open_loop_row(name: str, r: dict[str, Any], target: str) -> str:
    due, sent = r["from_due_ms"], r["from_sent_ms"]
    errors = r["requests"] - r["ok"]
    return (
        f"| {name} | {r['ok']:,} of {r['requests']:,} ({errors} failed) | "
        f"{r['achieved_per_s']:,.0f}/s | {ms(due.get('p50'))} | {ms(due.get('p99'))} | "
        f"{ms(due.get('max'))} | p99 from sent {ms(sent.get('p99'))} | {target} |"
    )


def route_rows(args: argparse.Namespace, s: dict[str, Any]) -> list[str]:
    route, drain = s["route"], s["drain"]
    p99 = route["from_due_ms"].get("p99", 1e9)
    rate_ok = route["ok"] == route["requests"] and route["achieved_per_s"] >= 0.98 * args.rate
    rows = [
        open_loop_row(
            f"POST /v1/webhooks/whatsapp, open loop {args.rate:,.0f}/s for {args.duration:g} s "
            f"(workers {args.mode})",
            route,
            f"{args.rate:,.0f}/s, p99 ≤ 50 ms: {mark(rate_ok and p99 <= 50)}",
        )
    ]
    done = drain["done"]
    lag = None if done is None else done - route["last_ok"]
    began = route["warmup"]["start"] if args.mode == "concurrent" else drain["spawned"]
    rate = "-" if done is None else f"{drain['messages'] / (done - began):,.0f}/s"
    lag_text = "timed out" if lag is None else f"**{lag:.2f} s**"
    rows.append(
        f"| worker: all {drain['messages']:,} messages stored, chats linked, after the last "
        f"accepted request ({args.workers} `crm worker`) | {drain['state'][1]:,} messages, "
        f"{drain['state'][2]:,} of {drain['state'][0]:,} chats linked | {rate} | - | - | - | "
        f"lag {lag_text} | ≤ 5 s: {mark(lag is not None and lag <= 5)} |"
    )
    return rows


def list_rows(args: argparse.Namespace, found: dict[str, Any]) -> list[str]:
    rows = []
    for connections in (64, 1):
        r = found[f"wrk {connections}"]
        errors = r["non_2xx"] + r["socket_errors"]
        cpu_per = 1e6 * r["cpu"] / r["requests"] if r["requests"] else 0
        rows.append(
            f"| GET /v1/chats/{{id}}/messages?limit=50, wrk {connections} connection(s) "
            f"{args.list_duration} s | {r['requests']:,} ({errors} failed) | "
            f"{r['rps']:,.0f}/s | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | {ms(r['max_ms'])} | "
            f"API CPU {cpu_per:,.0f} µs/req | p99 ≤ 20 ms: {mark(r['p99_ms'] <= 20)} |"
        )
    r = found["open loop"]
    p99 = r["from_due_ms"].get("p99", 1e9)
    rows.append(
        open_loop_row(
            f"the same, open loop {args.list_rate:,.0f}/s", r, f"p99 ≤ 20 ms: {mark(p99 <= 20)}"
        )
    )
    return rows


def moto_rows(args: argparse.Namespace, m: dict[str, Any]) -> list[str]:
    sent = m["send"]
    rows = [
        open_loop_row(
            f"moto alone: `SqsMessageQueue.send` of one message, open loop {args.rate:,.0f}/s",
            sent,
            "the route's ceiling",
        )
    ]
    lag = None if m["done"] is None else m["done"] - sent["last_ok"]
    rate = "-" if m["done"] is None else f"{m['messages'] / (m['done'] - sent['start']):,.0f}/s"
    rows.append(
        f"| moto alone: {args.workers} consumers receive 10, chat store get + append (+ "
        f"set_contact), delete, meanwhile | {m['handled']:,} of {m['messages']:,} | {rate} | "
        f"- | - | - | lag {'timed out' if lag is None else f'{lag:.2f} s'} | the worker's "
        "ceiling |"
    )
    listed = m["list"]
    rows.append(
        f"| moto alone: `DynamoDbChatStore.list_messages` of the newest 50, one after the other "
        f"{args.list_duration} s | {listed['requests']:,} | {listed['per_s']:,.0f}/s | "
        f"{ms(listed['ms']['p50'])} | {ms(listed['ms']['p99'])} | {ms(listed['ms']['max'])} | "
        "- | the list's ceiling |"
    )
    return rows


def render(args: argparse.Namespace, s: dict[str, Any] | None, m: dict[str, Any] | None) -> str:
    hot = args.per_customer[0]
    lines = [
        f"# WhatsApp in: {args.rate:,.0f} notifications/s for {args.duration:g} s",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; moto {version('moto')} {args.moto} "
        f"(bench/whatsapp_moto_server.py); {args.customers:,} customers with a contact each, "
        f"{len(args.per_customer):,} chats, the hot chat {hot} messages; latency from the "
        "time each request was due (open loop).",
        "",
        "| measure | answered | rate | p50 | p99 | max | other | target |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    notes = []
    if s is not None:
        lines += route_rows(args, s) + list_rows(args, s["list"])
        route, drain = s["route"], s["drain"]
        notes += [
            f"- route: statuses {route['statuses']} (warm-up {route['warmup']['requests']} at "
            f"{args.warmup_rate:g}/s: {route['warmup']['statuses']}); "
            f"{route['connections_opened']} connections, {route['busiest']} in flight at "
            f"most; `crm serve` CPU {route['cpu']['crm serve']:.1f} s over the run.",
            f"- drain: chats table {drain['state']} (chats, messages counted, linked); "
            f"{drain['items']:,} message items scanned; CPU from the route's start: "
            f"{cpu(drain['cpu'], drain['messages'])}.",
            f"- list: the chat holds {s['list']['messages_in_chat']} messages.",
        ]
    if m is not None:
        lines += moto_rows(args, m)
        notes.append(f"- moto alone CPU: {cpu(m['cpu'], m['messages'])}.")
    return "\n".join([*lines, "", *notes]) + "\n"
