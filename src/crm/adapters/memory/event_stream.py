"""The event stream within one process: in-process fan-out, and replay from the memory outbox.

`InMemoryEventBroadcaster` is the broadcaster of `crm dev` without Redis, and the local half
of the Redis broadcaster, which adds the other processes' events to it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

from crm.adapters.memory.state import MemoryStore
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.timeline import EventPosition
from crm.ports.event_stream import Accepts, Signal

_FINAL = (Signal.OVERFLOW, Signal.CLOSED)


class QueuedSubscription:
    """One subscriber's queue, bounded: past `max_queued` unread events it overflows."""

    def __init__(self, workspace_id: UUID, accepts: Accepts, max_queued: int) -> None:
        self.workspace_id = workspace_id
        self._accepts, self._max = accepts, max_queued
        self._events: list[PublishedEvent] = []
        self._signal: Signal | None = None
        self._ready = asyncio.Event()

    def offer(self, events: Sequence[PublishedEvent]) -> None:
        if self._signal in _FINAL:
            return
        accepted = [e for e in events if self._accepts(e)]
        if not accepted:
            return
        if len(self._events) + len(accepted) > self._max:
            self.interrupt(Signal.OVERFLOW)
            return
        self._events.extend(accepted)
        self._ready.set()

    def interrupt(self, signal: Signal) -> None:
        if self._signal in _FINAL:
            return
        if signal in _FINAL:
            self._events.clear()
        self._signal = signal
        self._ready.set()

    async def next(self, wait_seconds: float) -> list[PublishedEvent] | Signal | None:
        if not self._ready.is_set():
            try:
                async with asyncio.timeout(wait_seconds):
                    await self._ready.wait()
            except TimeoutError:
                return None
        if self._events:
            # Events queued before a MISSED notice go first; the notice waits for the next call.
            events, self._events = self._events, []
            if self._signal is None:
                self._ready.clear()
            return events
        signal = self._signal
        if signal not in _FINAL:
            self._signal = None
            self._ready.clear()
        return signal


class InMemoryEventBroadcaster:
    """Fan-out to this process's subscribers only. `publish` routes on the next turn of the
    event loop, so the committing request pays for one scheduled callback, not the fan-out."""

    def __init__(self) -> None:
        self._by_workspace: defaultdict[UUID, set[QueuedSubscription]] = defaultdict(set)
        self._stopped = False

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        batch = list(events)
        try:
            asyncio.get_running_loop().call_soon(self.route, batch)
        except RuntimeError:  # no loop: a synchronous caller (scripts, tests)
            self.route(batch)

    def route(self, events: Sequence[PublishedEvent]) -> None:
        """Offer events to this process's subscribers of their workspaces, at once."""
        by_workspace: defaultdict[UUID, list[PublishedEvent]] = defaultdict(list)
        for event in events:
            if event.workspace_id in self._by_workspace:
                by_workspace[event.workspace_id].append(event)
        for workspace_id, batch in by_workspace.items():
            for subscription in list(self._by_workspace.get(workspace_id, ())):
                subscription.offer(batch)

    def interrupt_all(self, signal: Signal) -> None:
        for subscriptions in list(self._by_workspace.values()):
            for subscription in list(subscriptions):
                subscription.interrupt(signal)

    @property
    def workspaces(self) -> list[UUID]:
        """The workspaces this process has subscribers for."""
        return list(self._by_workspace)

    @asynccontextmanager
    async def subscribe(
        self, workspace_id: UUID, accepts: Accepts, max_queued: int
    ) -> AsyncIterator[QueuedSubscription]:
        subscription = QueuedSubscription(workspace_id, accepts, max_queued)
        if self._stopped:
            subscription.interrupt(Signal.CLOSED)
        self._by_workspace[workspace_id].add(subscription)
        try:
            yield subscription
        finally:
            held = self._by_workspace.get(workspace_id)
            if held is not None:
                held.discard(subscription)
                if not held:
                    del self._by_workspace[workspace_id]

    async def start(self) -> None:
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True
        self.interrupt_all(Signal.CLOSED)


class InMemoryEventReplay:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def position(self, workspace_id: UUID, event_id: UUID) -> EventPosition | None:
        for e in self._store.state.outbox:
            if e.id == event_id and e.workspace_id == workspace_id:
                return EventPosition(e.occurred_at, e.id)
        return None

    async def after(
        self, workspace_id: UUID, position: EventPosition, limit: int
    ) -> list[PublishedEvent]:
        after = (position.occurred_at, position.id)
        found = sorted(
            (
                e
                for e in self._store.state.outbox
                if e.workspace_id == workspace_id and (e.occurred_at, e.id) > after
            ),
            key=lambda e: (e.occurred_at, e.id),
        )
        return [PublishedEvent.of(e) for e in found[:limit]]
