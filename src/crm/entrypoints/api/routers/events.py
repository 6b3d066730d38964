"""GET /v1/events/stream: the workspace's events as Server-Sent Events, as they commit."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import Field
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from crm.bootstrap import Container
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.event_stream import MAX_TYPES
from crm.domain.use_cases.stream_events import (
    Ended,
    EventStream,
    Idle,
    Opened,
    Reset,
    StreamCommand,
    StreamItem,
)
from crm.entrypoints.api.deps import principal as principal_of
from crm.entrypoints.api.deps import problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.schemas.problem import Problem

RETRY_MS = 2000
"""How long an EventSource waits before it reconnects (the `retry:` field)."""
Types = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
    Query(
        max_length=MAX_TYPES,
        description="Only events of these types: `*` (every type, the default), a prefix "
        "(`contact.*`) or one type (`deal.moved`). Repeat it for several: "
        "`?types=contact.*&types=deal.moved`. A pattern that is none of these is 422.",
    ),
]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=200,
        # Free text (an EventSource sends back whatever `id:` it saw), but no control
        # characters: like a NUL anywhere else, they are a 422.
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="The `id` of the last event received: the stream first sends what came "
        "after it, from the outbox. An id it cannot resume from is `event: reset`.",
    ),
]
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events, until the client or the service closes the stream",
        "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/EventStream"}}},
    }
}
_TOO_MANY = (
    "Rate limit exceeded (`rate_limited`), too many failed authentications "
    "(`too_many_failed_attempts`), or too many streams open for this key or person "
    "(`too_many_streams`, CRM_EVENT_STREAM_MAX_PER_KEY); see Retry-After"
)


def frame(item: StreamItem) -> str:
    """One SSE message (a comment for heartbeats), terminated by its blank line."""
    if isinstance(item, PublishedEvent):
        return f"id: {item.id}\nevent: {item.type}\ndata: {item.encode()}\n\n"
    if isinstance(item, Idle):
        return ": ping\n\n"
    if isinstance(item, Opened):
        return f": open\nretry: {RETRY_MS}\n\n"
    if isinstance(item, Reset):
        return f'event: reset\ndata: {{"reason":"{item.reason}"}}\n\n'
    if isinstance(item, Ended):
        return f'event: close\ndata: {{"reason":"{item.reason}"}}\n\n'
    raise TypeError(f"not a stream item: {item!r}")


async def _frames(stream: EventStream) -> AsyncGenerator[str, None]:
    async with aclosing(stream.__aiter__()) as items:
        async for item in items:
            yield frame(item)


class EventStreamResponse(StreamingResponse):
    """Gives the stream's place back however the response ends, even when it never began."""

    def __init__(self, stream: EventStream) -> None:
        self._frames = _frames(stream)
        super().__init__(
            self._frames,
            media_type="text/event-stream",
            # no-cache: never stored; X-Accel-Buffering: nginx passes each message at once.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._frames.aclose()
            self._stream.close()


def build(c: Container) -> APIRouter:
    r = APIRouter(route_class=LeanRoute)

    @r.get(
        "/v1/events/stream",
        tags=["events"],
        response_class=StreamingResponse,
        operation_id="streamEvents",
        summary="Stream the workspace's events as they commit (Server-Sent Events)",
        description=c.stream_events.__doc__,
        responses={**_STREAM, **problems(422), 429: {"model": Problem, "description": _TOO_MANY}},
    )
    async def stream_events(
        request: Request, types: Types = None, last_event_id: LastEventId = None
    ) -> Response:
        command = StreamCommand(principal_of(request), types, last_event_id)
        return EventStreamResponse(c.stream_events.open(command))

    return r
