"""The relay: committed outbox events onto the message queue, each at least once."""

from __future__ import annotations

import asyncio
import logging

from crm.domain.errors import PortError
from crm.domain.model.delivery import PublishedEvent
from crm.ports.message_queue import MAX_BATCH, MessageQueue, OutgoingMessage
from crm.ports.system import Clock
from crm.ports.unit_of_work import UnitOfWorkFactory

log = logging.getLogger("crm.worker")


def message_of(event: PublishedEvent) -> OutgoingMessage:
    """One event, one message; FIFO queues keep each record's events in order."""
    return OutgoingMessage(id=str(event.id), body=event.encode(), group=str(event.aggregate_id))


class RelayOutbox:
    """Claims up to `batch_size` unpublished outbox rows (rows another relay holds are
    skipped), sends them in batches of ten, marks them published and commits, all in one
    unit of work. A crash after the send and before the commit sends them again: never lost."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: MessageQueue,
        clock: Clock,
        batch_size: int = 100,
        idle_seconds: float = 0.5,
    ) -> None:
        self._uow, self._queue, self._clock = uow, queue, clock
        self._batch_size, self._idle_seconds = batch_size, idle_seconds
        self._wake = asyncio.Event()

    async def execute(self) -> int:
        """One round: how many events it published."""
        async with self._uow() as tx:
            events = await tx.outbox_delivery.claim_unpublished(self._batch_size)
            if not events:
                return 0
            messages = [message_of(e) for e in events]
            chunks = [messages[i : i + MAX_BATCH] for i in range(0, len(messages), MAX_BATCH)]
            sent = await asyncio.gather(
                *(self._queue.send(chunk) for chunk in chunks), return_exceptions=True
            )
            for outcome in sent:
                if isinstance(outcome, BaseException):
                    raise outcome
            await tx.outbox_delivery.mark_published([e.id for e in events], self._clock.now())
            await tx.commit()
        return len(events)

    def wake(self) -> None:
        """Cut the idle wait short (something was just committed)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set: at once while there is a backlog, else after a short
        wait (or as soon as `wake` is called)."""
        while not stop.is_set():
            try:
                published = await self.execute()
            except PortError as e:
                log.warning("relay round failed, retrying: %r", e)
                published = 0
            except Exception:
                # A bug must not stop delivery for good: log it and try again after a pause.
                log.exception("relay round failed, retrying")
                published = 0
            if published < self._batch_size:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, timeout=self._idle_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        self._wake.clear()
