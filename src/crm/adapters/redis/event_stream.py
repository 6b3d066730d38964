"""The event stream across API processes: Redis pub/sub, one channel per workspace.

Each process holds one pub/sub connection, subscribed to the channels of the workspaces it
has open streams for, plus a channel of its own that keeps the connection subscribed and
shows it is live. Redis hands a workspace's events only to the processes streaming that
workspace, so no process decodes events nobody there asked for, however many workspaces and
processes there are.

A process publishes what its requests committed from a background task: the request only
appends to a list. Each batch is one PUBLISH per workspace, pipelined in one round trip.
This process's own streams hear the events in-process at once and skip the copy that comes
back through Redis. While Redis is unreachable, streams keep working within each process; when
the subscription is back, every stream of the process is told that events of the other
processes may have been missed (MISSED), and replays them from the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from crm.adapters.memory.event_stream import InMemoryEventBroadcaster, QueuedSubscription
from crm.adapters.redis.event_publisher import (
    FAILURES,
    BatchedPublisher,
    OutageLog,
    cancel_task,
    channel_of,
)
from crm.domain.model.delivery import MalformedEvent, PublishedEvent
from crm.ports.event_stream import Accepts, Signal

log = logging.getLogger("crm.events.stream")

PROCESS_CHANNEL_PREFIX = "crm:events-process:"
CONFIRM_SECONDS = 1.0


class RedisEventBroadcaster:
    def __init__(
        self,
        publisher: Redis,
        subscriber: Redis,
        *,
        ping_every: float = 5.0,
        max_backoff: float = 2.0,
    ) -> None:
        self._subscriber = subscriber
        self._ping_every, self._max_backoff = ping_every, max_backoff
        self._local = InMemoryEventBroadcaster()
        self._origin = uuid4().hex
        self._own_channel = f"{PROCESS_CHANNEL_PREFIX}{self._origin}"
        self._outages = OutageLog()
        self._publisher = BatchedPublisher(publisher, self._origin, self._outages)
        self._counts: dict[UUID, int] = {}
        self._confirmations: defaultdict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        self.subscribed = asyncio.Event()
        """Set while the shared channel is live (tests wait for it)."""

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        self._local.publish(events)
        self._publisher.add(events)

    @asynccontextmanager
    async def subscribe(
        self, workspace_id: UUID, accepts: Accepts, max_queued: int
    ) -> AsyncIterator[QueuedSubscription]:
        async with self._local.subscribe(workspace_id, accepts, max_queued) as subscription:
            await self._acquire(workspace_id)
            try:
                yield subscription
            finally:
                await self._release(workspace_id)

    async def start(self) -> None:
        await self._local.start()
        self._stopping = False
        self._publisher.start()
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name="event-stream-listen")

    async def stop(self) -> None:
        await self._local.stop()
        self._stopping, self._pubsub = True, None
        await cancel_task(self._listener)
        self._listener = None
        await self._publisher.stop()
        await self._subscriber.aclose()

    async def _acquire(self, workspace_id: UUID) -> None:
        """Subscribe the shared connection to the workspace's channel (on its first stream)
        and wait, briefly, until Redis confirms; without Redis, go on in-process only."""
        count = self._counts.get(workspace_id, 0) + 1
        self._counts[workspace_id] = count
        channel, pubsub = channel_of(workspace_id), self._pubsub
        if pubsub is None:
            return
        if count == 1:
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel].append(confirmed)
            try:
                await pubsub.subscribe(channel)
            except Exception:
                return  # the listener reconnects, resubscribes and tells of MISSED events
        else:
            pending = self._confirmations.get(channel)
            if not pending:
                return
            confirmed = pending[-1]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_SECONDS)

    async def _release(self, workspace_id: UUID) -> None:
        count = self._counts.get(workspace_id, 1) - 1
        if count > 0:
            self._counts[workspace_id] = count
            return
        self._counts.pop(workspace_id, None)
        pubsub = self._pubsub
        if pubsub is not None:
            # Anything: a connection closed under it fails in redis-py's own ways.
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel_of(workspace_id))

    async def _listen_forever(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                await self._listen()
            except FAILURES as exc:
                self._outages.failing("subscribe", repr(exc))
            if self.subscribed.is_set():
                backoff = 0.05  # it was live: try again at once
            self._disconnected()
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff, backoff * 2)

    async def _listen(self) -> None:
        pubsub = self._subscriber.pubsub()
        try:
            await pubsub.subscribe(self._own_channel)
            # Connected: new streams subscribe on it themselves from now on.
            self._pubsub = pubsub
            channels = [channel_of(w) for w in self._counts]
            if channels:
                await pubsub.subscribe(*channels)
            awaiting = {self._own_channel, *channels}
            while True:
                message = await self._read(pubsub)
                if message.get("type") == "subscribe":
                    channel = _text(message["channel"])
                    if channel in awaiting:
                        awaiting.discard(channel)
                        if not awaiting:
                            self._resubscribed()
                    else:
                        self._confirm(channel)
                elif message.get("type") == "message":
                    self._deliver(message["data"])
        finally:
            self._pubsub = None
            with contextlib.suppress(*FAILURES):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read(self, pubsub: PubSub) -> dict[str, Any]:
        """The next message, or a PING after `ping_every` of silence; a connection that
        answers neither within the next interval is dead (a silent network failure)."""
        message = await pubsub.get_message(timeout=self._ping_every)
        if message is None:
            await pubsub.ping()
            message = await pubsub.get_message(timeout=self._ping_every)
            if message is None:
                raise ConnectionError("Redis did not answer PING on the event subscription")
        return dict(message)

    def _resubscribed(self) -> None:
        self._outages.working("subscribe")
        self.subscribed.set()
        # Streams opened or kept while the channel was down may have missed other processes'
        # events: they replay them from the outbox.
        self._local.interrupt_all(Signal.MISSED)

    def _confirm(self, channel: str) -> None:
        pending = self._confirmations.get(channel)
        if pending:
            future = pending.pop(0)
            if not future.done():
                future.set_result(None)
            if not pending:
                del self._confirmations[channel]

    def _disconnected(self) -> None:
        self.subscribed.clear()
        for pending in self._confirmations.values():
            for future in pending:
                if not future.done():
                    future.set_result(None)
        self._confirmations.clear()

    def _deliver(self, data: bytes | str) -> None:
        origin, _, body = _text(data).partition("\n")
        if origin == self._origin or not body:
            return
        events = []
        for line in body.split("\n"):
            try:
                events.append(PublishedEvent.decode(line))
            except MalformedEvent:
                log.warning("ignored a malformed event on the stream channel: %.200r", line)
        self._local.route(events)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
