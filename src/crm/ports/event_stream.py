"""The realtime fan-out: committed events to the open streams of every API process."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import DomainEvent
from crm.domain.model.timeline import EventPosition

Accepts = Callable[[PublishedEvent], bool]
CommitListener = Callable[[Sequence[DomainEvent]], None]


class CommittedEvents:
    """Where units of work report the events of each transaction once it committed. Built with
    the storage; the composition root makes the broadcaster listen. Listeners must return at
    once and never raise: they run on the request's path, right after its commit."""

    def __init__(self) -> None:
        self._listeners: list[CommitListener] = []

    def listen(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def __call__(self, events: Sequence[DomainEvent]) -> None:
        if events:
            for listener in self._listeners:
                listener(events)


class Signal(enum.Enum):
    OVERFLOW = "overflow"
    """The subscriber fell too far behind: its queued events were dropped, and it hears
    nothing more."""
    MISSED = "missed"
    """Events of other processes may have been missed (the shared channel was cut off and is
    back); they are in the outbox."""
    CLOSED = "closed"
    """The subscription was interrupted for good, or the broadcaster stopped."""


class Subscription(Protocol):
    async def next(self, wait_seconds: float) -> list[PublishedEvent] | Signal | None:
        """The accepted events that came since the last call, in the order they were
        published; else a signal; else None after `wait_seconds` of nothing. OVERFLOW and
        CLOSED are final: every later call returns them again at once."""

    def interrupt(self, signal: Signal) -> None:
        """Make `next` return `signal` now; OVERFLOW and CLOSED drop the queued events."""


class EventBroadcaster(Protocol):
    """Best effort by design: a lost live push is recovered from the outbox (Last-Event-ID),
    so publishing never waits and never fails the write that committed."""

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        """Hand committed events to every subscriber of their workspace, in any API process;
        returns at once and never raises."""

    def subscribe(
        self, workspace_id: UUID, accepts: Accepts, max_queued: int
    ) -> AbstractAsyncContextManager[Subscription]:
        """A subscription that hears every event of the workspace that `accepts` takes and
        that is published after it was entered (perhaps some published just before): from
        other processes too, once the shared channel confirmed it (where it cannot, a MISSED
        signal follows when it does). Over `max_queued` unread events it overflows."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Close every subscription (CLOSED) and release the shared channel."""


class EventReplay(Protocol):
    """The outbox, read in the order events occurred (occurred_at, id) within a workspace."""

    async def position(self, workspace_id: UUID, event_id: UUID) -> EventPosition | None:
        """Where the event is, or None when the workspace has no such event (any more)."""

    async def after(
        self, workspace_id: UUID, position: EventPosition, limit: int
    ) -> list[PublishedEvent]:
        """Up to `limit` events of the workspace after `position`, oldest first."""
