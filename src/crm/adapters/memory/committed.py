"""The in-memory unit of work that reports the events it recorded once it committed."""

from __future__ import annotations

from typing import Self

from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.ports.event_stream import CommittedEvents


class ReportingInMemoryUnitOfWork(InMemoryUnitOfWork):
    def __init__(self, store: MemoryStore, committed: CommittedEvents) -> None:
        super().__init__(store)
        self._committed = committed
        self._reported = 0

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._reported = len(self._state.outbox)
        return self

    async def commit(self) -> None:
        events = self._state.outbox[self._reported :]
        await super().commit()
        self._reported += len(events)
        self._committed(events)
