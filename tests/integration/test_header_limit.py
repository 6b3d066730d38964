"""The cap on a request's line + headers (CRM_MAX_HEADER_BYTES), against a real `crm serve`.

Raw sockets, because an HTTP client would neither send a head of an exact size nor keep
sending a header the server has stopped reading.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from crm.settings import Settings
from tests.support.live import LiveServer, live_server

CAP = int(Settings.model_fields["max_header_bytes"].default)
MiB = 1024 * 1024
PIECE = b"a" * (64 * 1024)
# One test request is padded to an exact size in each place a head can carry bytes.
SHAPES = ("request line", "one header", "many headers")
# What a request streamed without end starts with: a header value or the request target.
ENDLESS = {
    "header": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: ",
    "request line": b"GET /healthz?pad=",
}


@pytest_asyncio.fixture(scope="module")
async def server(
    pg_server_url: str, template_database: str, redis_url: str
) -> AsyncIterator[LiveServer]:
    """One `crm serve` for the module, on a database cloned from the migrated template."""
    admin = make_url(pg_server_url).set(drivername="postgresql").render_as_string(False)
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
        url = make_url(pg_server_url).set(database=name).render_as_string(False)
        with live_server(url, redis_url) as live:
            yield live
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


def sized_head(size: int, shape: str) -> bytes:
    """A GET /healthz whose request line and headers are exactly `size` bytes."""
    if shape == "request line":
        bare = _head(b"/healthz?pad=", [])
        return _head(b"/healthz?pad=" + b"a" * (size - len(bare)), [])
    if shape == "one header":
        bare = _head(b"/healthz", [b"X-Pad: "])
        return _head(b"/healthz", [b"X-Pad: " + b"a" * (size - len(bare))])
    fields = [b"X-Pad-%03d: %s" % (i, b"a" * 100) for i in range(size // 120)]
    short = size - len(_head(b"/healthz", fields))
    fields[-1] += b"a" * short
    return _head(b"/healthz", fields)


def _head(target: bytes, fields: list[bytes]) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: t", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@contextmanager
def connection(live: LiveServer) -> Iterator[tuple[socket.socket, BinaryIO]]:
    port = int(live.base_url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        sock.makefile("rb") as reader,
    ):
        yield sock, reader


def read_response(reader: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    status_line = reader.readline()
    assert status_line, "the server closed the connection without answering"
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def exchange(live: LiveServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connection(live) as (sock, reader):
        sock.sendall(request)
        return read_response(reader)


def stream_endless(live: LiveServer, start: bytes, size: int) -> tuple[int, bytes | None]:
    """Send `start` then `size` bytes of one header or target that never ends, in many TCP
    segments as a client would: the bytes sent before the server hung up, and what it
    answered (b"" when it reset the connection, None when it kept waiting for more)."""
    sent = 0
    with connection(live) as (sock, reader):
        try:
            sock.sendall(start)
            while sent < size:
                sock.sendall(PIECE)
                sent += len(PIECE)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except TimeoutError:
            return sent, None
        sock.settimeout(1)
        try:
            return sent, reader.read()
        except ConnectionResetError:
            return sent, b""
        except TimeoutError:
            return sent, None


def refused(sent: int, answer: bytes | None) -> bool:
    """The server hung up (after a 431 or not) long before the attack was over."""
    return sent < 16 * MiB and answer is not None and answer[:13] in (b"", b"HTTP/1.1 431 ")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def assert_refused(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["code"] == "request_header_fields_too_large"
    assert problem["request_id"] == headers["x-request-id"]
    assert str(CAP) in problem["detail"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_head_of_exactly_the_cap_is_served(server: LiveServer, shape: str) -> None:
    request = sized_head(CAP, shape)
    assert len(request) == CAP
    status, _, body = exchange(server, request)
    assert (status, json.loads(body)["status"]) == (200, "ok")


@pytest.mark.parametrize("shape", SHAPES)
def test_one_byte_over_the_cap_is_431_and_the_connection_closes(
    server: LiveServer, shape: str
) -> None:
    request = sized_head(CAP + 1, shape)
    assert len(request) == CAP + 1
    with connection(server) as (sock, reader):
        sock.sendall(request)
        assert_refused(*read_response(reader))
        assert reader.read() == b""


@pytest.mark.parametrize("place", ENDLESS)
def test_a_64_mib_head_sent_in_pieces_is_refused_before_it_is_read(
    server: LiveServer, place: str
) -> None:
    sent, answer = stream_endless(server, ENDLESS[place], 64 * MiB)
    assert refused(sent, answer), (sent, answer and answer[:200])


def test_repeated_attacks_leave_the_server_memory_flat(server: LiveServer) -> None:
    before = rss_bytes(server.pid)
    outcomes = [stream_endless(server, ENDLESS["header"], 16 * MiB) for _ in range(30)]
    grown = rss_bytes(server.pid) - before
    assert grown < 20 * MiB, f"the server grew by {grown / MiB:.1f} MiB"
    assert all(refused(*outcome) for outcome in outcomes)
    status, _, _ = exchange(server, _head(b"/healthz", []))
    assert status == 200


def test_the_cap_is_per_request_on_a_keep_alive_connection(server: LiveServer) -> None:
    request = sized_head(CAP * 3 // 4, "one header")
    with connection(server) as (sock, reader):
        for _ in range(8):
            sock.sendall(request)
            assert read_response(reader)[0] == 200


def test_pipelined_requests_are_each_held_to_the_cap(server: LiveServer) -> None:
    small = sized_head(CAP * 3 // 4, "many headers")
    with connection(server) as (sock, reader):
        sock.sendall(small * 8)
        assert [read_response(reader)[0] for _ in range(8)] == [200] * 8
    # An oversized head behind an unanswered request, in the same read: the first is
    # answered, then the connection closes (a 431 would interleave with that answer).
    with connection(server) as (sock, reader):
        sock.sendall(small + sized_head(CAP + 1, "one header"))
        assert read_response(reader)[0] == 200
        rest = reader.read()
        assert rest == b"" or rest.startswith(b"HTTP/1.1 431 "), rest[:200]
