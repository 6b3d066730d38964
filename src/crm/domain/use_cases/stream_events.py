"""Stream a workspace's events as they commit, resuming from the outbox (GET /v1/events/stream)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.event_stream import (
    REPLAY_LIMIT,
    EndReason,
    ResetReason,
    StreamFilter,
    TooManyStreams,
)
from crm.domain.model.permissions import Principal
from crm.domain.model.timeline import EventPosition
from crm.ports.credentials import CredentialChange
from crm.ports.event_stream import EventBroadcaster, EventReplay, Signal, Subscription
from crm.ports.system import Clock

RECENT_IDS = 4096
"""Ids of events sent lately, so an event replayed and heard live goes out once."""


@dataclass(frozen=True, slots=True)
class StreamCommand:
    principal: Principal
    types: Sequence[str] | None = None
    last_event_id: str | None = None
    """As the client sent it: an id that is not one of the workspace's events resets."""


@dataclass(frozen=True, slots=True)
class StreamOptions:
    heartbeat_seconds: float = 15.0
    max_per_actor: int = 10
    max_queued: int = 1000


@dataclass(frozen=True, slots=True)
class Opened:
    """The subscription is live: every event committed from now on will be sent."""


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing for `heartbeat_seconds`: time for a heartbeat."""


@dataclass(frozen=True, slots=True)
class Reset:
    """The client must re-read what it shows; events sent after this are new."""

    reason: ResetReason


@dataclass(frozen=True, slots=True)
class Ended:
    """The last item: the service closes the stream."""

    reason: EndReason


StreamItem = PublishedEvent | Opened | Idle | Reset | Ended


@dataclass(eq=False)
class _Open:
    filter: StreamFilter
    subscription: Subscription | None = None
    ending: EndReason | None = None

    def end(self, reason: EndReason) -> None:
        self.ending = self.ending or reason
        if self.subscription is not None:
            self.subscription.interrupt(Signal.CLOSED)


@dataclass
class _Sent:
    """What a stream sent lately, and the position a replay continues from."""

    position: EventPosition
    ids: deque[UUID] = field(default_factory=lambda: deque(maxlen=RECENT_IDS))
    seen: set[UUID] = field(default_factory=set)

    def first_time(self, event: PublishedEvent) -> bool:
        if event.id in self.seen:
            return False
        if len(self.ids) == self.ids.maxlen:
            self.seen.discard(self.ids[0])
        self.ids.append(event.id)
        self.seen.add(event.id)
        self.position = max(self.position, EventPosition(event.occurred_at, event.id), key=_key)
        return True


def _key(p: EventPosition) -> tuple[datetime, UUID]:
    return (p.occurred_at, p.id)


class StreamEvents:
    """Stream the workspace's events as they commit, of the types asked for (`*`, `contact.*`,
    `deal.moved`; every type by default) and only those the caller may read. With
    Last-Event-ID the stream first sends the events that came after it, from the outbox;
    an id the outbox does not hold (purged, or never one) is a reset: re-read, then listen."""

    def __init__(
        self,
        broadcaster: EventBroadcaster,
        replay: EventReplay,
        clock: Clock,
        options: StreamOptions | None = None,
    ) -> None:
        self._broadcaster, self._replay, self._clock = broadcaster, replay, clock
        self._options = options or StreamOptions()
        self._open: dict[tuple[UUID, UUID], set[_Open]] = {}
        self._stopping = False

    def open(self, cmd: StreamCommand) -> EventStream:
        """Check the request (422 for bad types, 429 over the streams allowed per key or
        person) and hold its place; iterating the result runs the stream."""
        wanted = StreamFilter.parse(cmd.principal, cmd.types)
        key = (cmd.principal.workspace_id, cmd.principal.actor_id)
        held = self._open.setdefault(key, set())
        if len(held) >= self._options.max_per_actor:
            raise TooManyStreams(
                f"At most {self._options.max_per_actor} event streams may be open at once "
                "per API key or person (on each server); close one first."
            )
        record = _Open(wanted)
        held.add(record)
        if self._stopping:
            record.end(EndReason.SHUTDOWN)
        return EventStream(self._run(record, cmd.last_event_id), lambda: self._release(record))

    def close_all(self) -> None:
        """End every open stream (shutdown); streams opened from now on end at once."""
        self._stopping = True
        for held in list(self._open.values()):
            for record in list(held):
                record.end(EndReason.SHUTDOWN)

    def credentials_changed(self, change: CredentialChange | None) -> None:
        """A credential listener: the streams of a revoked key or a changed or removed member
        end (every stream, when changes may have been missed), to authenticate again."""
        for (workspace_id, actor_id), held in list(self._open.items()):
            if change is None or (change.workspace_id, change.actor_id) == (
                workspace_id,
                actor_id,
            ):
                for record in list(held):
                    record.end(EndReason.CREDENTIALS_CHANGED)

    def _release(self, record: _Open) -> None:
        key = (record.filter.principal.workspace_id, record.filter.principal.actor_id)
        held = self._open.get(key)
        if held is not None:
            held.discard(record)
            if not held:
                del self._open[key]

    async def _run(self, record: _Open, last_event_id: str | None) -> AsyncIterator[StreamItem]:
        workspace_id = record.filter.principal.workspace_id
        subscribed = self._broadcaster.subscribe(
            workspace_id, record.filter.accepts, self._options.max_queued
        )
        async with subscribed as subscription:
            record.subscription = subscription
            if record.ending is not None:
                subscription.interrupt(Signal.CLOSED)
            yield Opened()
            sent = _Sent(EventPosition(self._clock.now(), UUID(int=0)))
            if last_event_id is not None:
                async for item in self._resume(record, sent, last_event_id):
                    yield item
            async for item in self._live(record, subscription, sent):
                yield item

    async def _resume(
        self, record: _Open, sent: _Sent, last_event_id: str
    ) -> AsyncIterator[StreamItem]:
        workspace_id = record.filter.principal.workspace_id
        position = None
        event_id = _uuid(last_event_id)
        if event_id is not None:
            position = await self._replay.position(workspace_id, event_id)
        if position is None:
            yield Reset(ResetReason.UNKNOWN_EVENT)
            return
        sent.position = position
        async for item in self._catch_up(record, sent):
            yield item

    async def _catch_up(self, record: _Open, sent: _Sent) -> AsyncIterator[StreamItem]:
        """The events after what was sent, from the outbox (in the order they occurred)."""
        workspace_id = record.filter.principal.workspace_id
        events = await self._replay.after(workspace_id, sent.position, REPLAY_LIMIT + 1)
        if len(events) > REPLAY_LIMIT:
            sent.position = EventPosition(self._clock.now(), UUID(int=0))
            yield Reset(ResetReason.TOO_FAR_BEHIND)
            return
        for event in events:
            if record.filter.accepts(event) and sent.first_time(event):
                yield event

    async def _live(
        self, record: _Open, subscription: Subscription, sent: _Sent
    ) -> AsyncIterator[StreamItem]:
        while True:
            got = await subscription.next(self._options.heartbeat_seconds)
            if got is None:
                yield Idle()
            elif isinstance(got, list):
                for event in got:
                    if sent.first_time(event):
                        yield event
            elif got is Signal.MISSED:
                async for item in self._catch_up(record, sent):
                    yield item
            elif got is Signal.OVERFLOW:
                yield Reset(ResetReason.TOO_SLOW)
                return
            else:
                yield Ended(record.ending or EndReason.SHUTDOWN)
                return


class EventStream:
    """One open stream: iterate it once; `close` (idempotent) gives its place back, also
    when it was never iterated (nothing was subscribed then)."""

    def __init__(self, items: AsyncIterator[StreamItem], release: Callable[[], None]) -> None:
        self._items, self._release = items, release
        self._closed = False

    async def __aiter__(self) -> AsyncGenerator[StreamItem, None]:
        try:
            async for item in self._items:
                yield item
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value.strip())
    except ValueError:
        return None
