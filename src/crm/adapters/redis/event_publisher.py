"""Publishing committed events to Redis from a background task, in batches, never on the
request's path: the request only appends to a list (see event_stream.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crm.domain.model.delivery import PublishedEvent

log = logging.getLogger("crm.events.stream")

CHANNEL_PREFIX = "crm:events:"
MAX_OUTGOING = 10_000
"""Events waiting to be published while Redis is slow or down; beyond, the newest are dropped
from the live push (the outbox keeps them)."""
STOP_SECONDS = 1.0
FAILURES = (RedisError, OSError, TimeoutError)


def channel_of(workspace_id: UUID) -> str:
    return f"{CHANNEL_PREFIX}{workspace_id}"


def encode_batch(origin: str, events: Sequence[PublishedEvent]) -> str:
    """The message: the sending process, then one event per line (encoded JSON never holds
    a raw newline)."""
    return "\n".join([origin, *(event.encode() for event in events)])


class OutageLog:
    """One warning when a kind of Redis call starts failing, one line when it works again."""

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def failing(self, what: str, detail: str) -> None:
        if what not in self._failing:
            self._failing.add(what)
            log.warning(
                "event stream: Redis %s failing (%s); streams get other processes' events "
                "from the outbox when it is back",
                what,
                detail,
            )

    def working(self, what: str) -> None:
        if what in self._failing:
            self._failing.discard(what)
            log.info("event stream: Redis %s works again", what)


class BatchedPublisher:
    """Whatever came while a round trip was on its way goes in the next: one PUBLISH per
    workspace per batch, pipelined in one round trip. A failed batch is dropped (logged)."""

    def __init__(self, client: Redis, origin: str, outages: OutageLog) -> None:
        self._client, self._origin, self._outages = client, origin, outages
        self._outgoing: list[PublishedEvent] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def add(self, events: Sequence[PublishedEvent]) -> None:
        room = MAX_OUTGOING - len(self._outgoing)
        if room < len(events):
            self._outages.failing("publish", f"over the backlog of {MAX_OUTGOING} events")
        self._outgoing.extend(events[: max(room, 0)])
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        if self._task is None:
            self._task = asyncio.create_task(self._publish_forever(), name="event-stream-publish")

    async def stop(self) -> None:
        """Stop the task, publish what is left (briefly), close the client."""
        # The loop also checks the flag: a cancellation that arrives inside a Redis call may
        # come out of it as a timeout, which it would otherwise take for an outage.
        self._stopping = True
        self._wake.set()
        await cancel_task(self._task)
        self._task = None
        left, self._outgoing = self._outgoing, []
        with contextlib.suppress(*FAILURES):
            await asyncio.wait_for(self._send(left), STOP_SECONDS)
        await self._client.aclose()

    async def _publish_forever(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outgoing = self._outgoing, []
            try:
                await self._send(batch)
            except FAILURES as exc:
                self._outages.failing("publish", f"{len(batch)} events not pushed ({exc!r})")
            else:
                self._outages.working("publish")

    async def _send(self, events: Sequence[PublishedEvent]) -> None:
        by_workspace: defaultdict[UUID, list[PublishedEvent]] = defaultdict(list)
        for event in events:
            by_workspace[event.workspace_id].append(event)
        if not by_workspace:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for workspace_id, batch in by_workspace.items():
                pipe.publish(channel_of(workspace_id), encode_batch(self._origin, batch))
            await pipe.execute()


async def cancel_task(task: asyncio.Task[None] | None, wait: float = STOP_SECONDS) -> None:
    if task is not None:
        task.cancel()
        await asyncio.wait({task}, timeout=wait)
