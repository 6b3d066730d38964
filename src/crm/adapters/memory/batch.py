"""Batch writes over `MemoryState`, through the single-record repositories' rules."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from crm.adapters.memory import companies as company_repos
from crm.adapters.memory import deals as deal_repos
from crm.adapters.memory import repositories as repos
from crm.adapters.memory.state import MemoryState
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.ports.batch import BatchStore


class _Record(Protocol):
    id: UUID
    workspace_id: UUID
    version: int


R = TypeVar("R", bound=_Record)


class InMemoryBatchStore(Generic[R]):
    def __init__(self, records: dict[UUID, R], writer: Any, attrs: Mapping[str, str]) -> None:
        self._records, self._writer, self._attrs = records, writer, attrs

    async def lock(
        self, workspace_id: UUID, ids: Collection[UUID], keys: Mapping[str, Collection[str]]
    ) -> list[R]:
        wanted = {(k, v) for k, values in keys.items() for v in values}
        return [
            copy.deepcopy(r)
            for r in sorted(self._records.values(), key=lambda r: r.id)
            if r.workspace_id == workspace_id and (r.id in ids or self._holds(r, wanted))
        ]

    def _holds(self, record: R, wanted: set[tuple[str, str]]) -> bool:
        for key, attr in self._attrs.items():
            value = getattr(record, attr)
            values = value if isinstance(value, tuple) else (value,)
            if any((key, v) in wanted for v in values if v is not None):
                return True
        return False

    async def add_many(self, records: Sequence[R]) -> None:
        for record in records:
            await self._writer.add(record)

    async def save_many(self, records: Sequence[R]) -> None:
        for record in records:
            await self._writer.save(record, expected_version=record.version - 1)


class InMemoryBatchStores:
    def __init__(self, state: MemoryState) -> None:
        self._s = state
        self.contacts: BatchStore[Contact] = InMemoryBatchStore[Contact](
            state.contacts,
            repos.InMemoryContactRepository(state),
            {"email": "emails", "phone": "phones", "external_id": "external_id"},
        )
        self.companies: BatchStore[Company] = InMemoryBatchStore[Company](
            state.companies, company_repos.InMemoryCompanyRepository(state), {"domain": "domain"}
        )
        self.deals: BatchStore[Deal] = InMemoryBatchStore[Deal](
            state.deals, deal_repos.InMemoryDealRepository(state), {"external_id": "external_id"}
        )

    async def members_among(self, workspace_id: UUID, user_ids: Collection[UUID]) -> set[UUID]:
        return {u for u in user_ids if (workspace_id, u) in self._s.members}
