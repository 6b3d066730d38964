"""Reading Server-Sent Events as they come: from an app in-process through a raw ASGI driver
(httpx's ASGITransport buffers a streaming response until it ends), or from a live server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.types import ASGIApp, Message, Scope

WAIT = 5.0


@dataclass
class SseMessage:
    """One message (or a block of comments only, `event` and `data` None)."""

    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        assert self.data is not None, self
        return json.loads(self.data)


class SseParser:
    """Splits a stream's text into messages at blank lines (the spec's framing)."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[SseMessage]:
        self._buffer += text.replace("\r\n", "\n")
        *blocks, self._buffer = self._buffer.split("\n\n")
        return [_message(block) for block in blocks if block]


def _message(block: str) -> SseMessage:
    m = SseMessage()
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            m.comments.append(value)
        elif name == "data":
            m.data = value if m.data is None else f"{m.data}\n{value}"
        elif name == "event":
            m.event = value
        elif name == "id":
            m.id = value
        elif name == "retry":
            m.retry = int(value)
    return m


class StreamReader:
    """Messages as they arrive; `ended` once the response is complete."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[SseMessage | None] = asyncio.Queue()
        self.parser = SseParser()
        self.ended = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""

    def take(self, text: str) -> None:
        for message in self.parser.feed(text):
            self.messages.put_nowait(message)

    async def next(self, wait: float = WAIT) -> SseMessage | None:
        """The next message; None when the stream ended. Fails after `wait` seconds."""
        return await asyncio.wait_for(self.messages.get(), wait)

    async def until(
        self, found: Callable[[SseMessage], bool], wait: float = WAIT
    ) -> tuple[SseMessage, list[SseMessage]]:
        """The first message `found` accepts, and those before it."""
        before: list[SseMessage] = []
        async with asyncio.timeout(wait):
            while True:
                message = await self.messages.get()
                if message is None:
                    raise AssertionError(f"the stream ended first; before: {before}")
                if found(message):
                    return message, before
                before.append(message)

    async def event(self, wait: float = WAIT) -> SseMessage:
        """The next message with an event, skipping comments (heartbeats)."""
        message, _ = await self.until(lambda m: m.event is not None, wait)
        return message

    async def opened(self) -> None:
        """Wait for `: open`, sent once the subscription is live."""
        await self.until(lambda m: "open" in m.comments)

    async def quiet(self, seconds: float) -> list[SseMessage]:
        """Every event message within `seconds` (heartbeats left out)."""
        got: list[SseMessage] = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    message = await self.messages.get()
                    if message is None:
                        return got
                    if message.event is not None:
                        got.append(message)
        except TimeoutError:
            return got


def stream_path(types: list[str] | None = None) -> str:
    query = urlencode([("types", t) for t in types or []])
    return "/v1/events/stream" + (f"?{query}" if query else "")


def _get(path: str, headers: dict[str, str]) -> Scope:
    raw_path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"api.test")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("api.test", 80),
        "state": {},
    }


def _record(reader: StreamReader, message: Message) -> None:
    if message["type"] == "http.response.start":
        reader.status = message["status"]
        reader.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
    elif message["type"] == "http.response.body":
        chunk = message.get("body", b"")
        reader.body += chunk
        if reader.status == 200:
            reader.take(chunk.decode())
        if not message.get("more_body", False):
            reader.ended = True
            reader.messages.put_nowait(None)


@asynccontextmanager
async def asgi_stream(
    app: ASGIApp,
    path: str,
    headers: dict[str, str],
    *,
    hold_after_open: asyncio.Event | None = None,
) -> AsyncIterator[StreamReader]:
    """GET `path` on the app in-process, reading the response body as it is sent. With
    `hold_after_open`, every send after the `: open` comment waits until that event is set:
    a client that stops reading."""
    reader = StreamReader()
    disconnect, started = asyncio.Event(), asyncio.Event()
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if requests:
            return requests.pop()
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if hold_after_open is not None and b": open" in reader.body:
            await hold_after_open.wait()
        _record(reader, message)
        started.set()

    async def run() -> None:
        await app(_get(path, headers), receive, send)

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(WAIT):
            await started.wait()
        yield reader
    finally:
        disconnect.set()
        if hold_after_open is not None:
            hold_after_open.set()
        try:
            async with asyncio.timeout(WAIT):
                await task
        finally:
            task.cancel()


@asynccontextmanager
async def live_stream(
    base_url: str, headers: dict[str, str], path: str = "/v1/events/stream"
) -> AsyncIterator[StreamReader]:
    """The stream of a live server, read by a task as bytes arrive."""
    reader = StreamReader()
    timeout = httpx.Timeout(WAIT, read=None)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        reader.status = response.status_code
        reader.headers = dict(response.headers)

        async def pump() -> None:
            with contextlib.suppress(httpx.HTTPError):
                async for text in response.aiter_text():
                    reader.take(text)
            reader.ended = True
            reader.messages.put_nowait(None)

        task = asyncio.create_task(pump())
        try:
            yield reader
        finally:
            task.cancel()
