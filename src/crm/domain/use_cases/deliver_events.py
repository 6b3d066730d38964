"""Running the relay and the consumers as tasks of one process, and stopping them cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from contextvars import Context
from typing import Protocol

from crm.domain.use_cases.consume_events import ConsumeEvents
from crm.domain.use_cases.relay_outbox import RelayOutbox

log = logging.getLogger("crm.worker")


class Loop(Protocol):
    """Another loop of the worker (webhook deliveries, reminders): runs until `stop` is set."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


class EventDelivery:
    """The relay and `consumers` receive loops, as tasks of this process (`crm worker`, or the
    API process of `crm dev`), plus any other `loops` of the worker. `stop` lets received
    messages finish for up to `grace_seconds`; what is cut short is received again elsewhere
    after its visibility timeout."""

    def __init__(
        self,
        relay: RelayOutbox,
        consumer: ConsumeEvents,
        consumers: int = 1,
        grace_seconds: float = 10.0,
        loops: Sequence[Loop] = (),
    ) -> None:
        self._relay, self._consumer, self._loops = relay, consumer, tuple(loops)
        self._consumers, self._grace = consumers, grace_seconds
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stop.clear()
        # A context of their own: nothing of the caller's (a request's transaction) leaks in.
        self._tasks = [
            asyncio.create_task(self._relay.run(self._stop), name="relay", context=Context())
        ]
        self._tasks += [
            asyncio.create_task(
                self._consumer.run(self._stop), name=f"consumer-{n}", context=Context()
            )
            for n in range(self._consumers)
        ]
        self._tasks += [
            asyncio.create_task(loop.run(self._stop), name=loop.name, context=Context())
            for loop in self._loops
        ]

    async def stop(self) -> None:
        self._stop.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self._grace)
        for task in late:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def until_stopped(self, signal: asyncio.Event) -> None:
        """Run until `signal` is set, or until a loop ends on its own (a bug: re-raised)."""
        watch = asyncio.ensure_future(signal.wait())
        await asyncio.wait([watch, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        watch.cancel()
        ended = [t for t in self._tasks if t.done()]
        await self.stop()
        for task in ended:
            task.result()

    def wake_relay(self) -> None:
        self._relay.wake()
