"""A real HTTP receiver for webhook tests: a small threaded server on a free local port that
records every request and answers as scripted (fail N times, hang, redirect, 410, a huge body).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass(frozen=True)
class Answer:
    """What to answer one request with: a status, after `delay` seconds, with `body_bytes` of
    body (streamed) and extra headers."""

    status: int = 200
    delay: float = 0.0
    body_bytes: int = 2
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: deque[Answer] = field(default_factory=deque)
    default: Answer = Answer()
    bytes_sent: list[int] = field(default_factory=list)
    """Per huge answer: how much of it got out before the client hung up."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *answers: Answer) -> None:
        with self.lock:
            self.script.extend(answers)

    def fail(self, times: int, status: int = 500) -> None:
        self.answer(*[Answer(status)] * times)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """The first `count` requests, once that many came (AssertionError after `within` s)."""
        if not await until(lambda: len(self.received) >= count, within):
            raise AssertionError(f"the receiver got {len(self.received)} requests, not {count}")
        with self.lock:
            return list(self.received[:count])


async def until(check: Callable[[], object], within: float = 5.0) -> bool:
    """Whether `check()` came true within `within` seconds (the server's threads change what
    it looks at, so there is nothing to await but time)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k: v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, time.monotonic()))
            answer = receiver.next_answer()
            time.sleep(answer.delay)
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(answer.body_bytes))
            self.end_headers()
            self._body(answer.body_bytes)

        def _body(self, size: int) -> None:
            sent, chunk = 0, b"x" * 65536
            try:
                while sent < size:
                    part = chunk[: min(len(chunk), size - sent)]
                    self.wfile.write(part)
                    sent += len(part)
            except OSError:
                self.close_connection = True
            if size > 65536:
                with receiver.lock:
                    receiver.bytes_sent.append(sent)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) until the block ends."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
