"""Pipelines, deals, stage history and deal links over `MemoryState` (see the contract tests)."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.repositories import external_id_holder
from crm.adapters.memory.state import MemoryState, MemoryStore
from crm.domain.errors import CompanyNotFound, ContactNotFound, ExternalIdTaken, VersionConflict
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal, DealStatus, LinkedObject, LinkedTo, StageChange
from crm.domain.model.pipeline import CurrencyTotal, Pipeline, Stage, StageSummary
from crm.domain.pagination import Page, PageRequest
from crm.ports.deals import DealFilter


class _Repository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state


class InMemoryPipelineRepository(_Repository):
    async def add(self, pipeline: Pipeline) -> None:
        self._s.pipelines[pipeline.id] = copy.deepcopy(pipeline)

    async def get(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        found = self._s.pipelines.get(pipeline_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    get_for_update = get

    async def get_default(self, workspace_id: UUID) -> Pipeline | None:
        found = (
            p for p in self._s.pipelines.values() if p.workspace_id == workspace_id and p.is_default
        )
        return copy.deepcopy(next(found, None))

    async def save(self, pipeline: Pipeline, expected_version: int) -> None:
        stored = self._s.pipelines.get(pipeline.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The pipeline was changed by another writer.")
        kept = {s.id for s in pipeline.stages}
        gone = {s.id for s in stored.stages} - kept
        if any(d.stage_id in gone for d in self._s.deals.values()):
            raise AssertionError("a deleted stage still holds deals")  # the FK in Postgres
        self._s.pipelines[pipeline.id] = copy.deepcopy(pipeline)

    async def clear_default(self, workspace_id: UUID) -> None:
        for p in self._s.pipelines.values():
            if p.workspace_id == workspace_id:
                p.is_default = False

    async def remove(self, pipeline: Pipeline) -> None:
        self._s.pipelines.pop(pipeline.id, None)


class InMemoryDealRepository(_Repository):
    async def add(self, deal: Deal) -> None:
        self._check_external_id(deal)
        self._s.deals[deal.id] = copy.deepcopy(deal)

    def _check_external_id(self, deal: Deal) -> None:
        holder = external_id_holder(self._s.deals.values(), deal)
        if holder is not None and deal.external_id is not None:
            raise ExternalIdTaken.held_by("deal", deal.external_id, holder)

    async def get_for_update(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        found = self._s.deals.get(deal_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    get = get_for_update

    async def save(self, deal: Deal, expected_version: int) -> None:
        stored = self._s.deals.get(deal.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The deal was changed by another writer.")
        self._check_external_id(deal)
        self._s.deals[deal.id] = copy.deepcopy(deal)

    async def remove(self, deal: Deal) -> None:
        self._s.deals.pop(deal.id, None)
        self._s.deal_history = [h for h in self._s.deal_history if h.deal_id != deal.id]
        for key in [k for k in self._s.deal_links if k[2] == deal.id]:
            del self._s.deal_links[key]

    async def count_in(self, workspace_id: UUID, pipeline_id: UUID, stage_id: UUID | None) -> int:
        return sum(
            1
            for d in self._s.deals.values()
            if d.workspace_id == workspace_id
            and d.pipeline_id == pipeline_id
            and stage_id in (None, d.stage_id)
        )

    async def move_all(
        self, workspace_id: UUID, from_stage_id: UUID, to: Stage, now: datetime
    ) -> list[tuple[UUID, DealStatus]]:
        moved = []
        for d in self._s.deals.values():
            if d.workspace_id == workspace_id and d.stage_id == from_stage_id:
                moved.append((d.id, d.status))
                d.move_to(to, now)
        return moved

    async def add_history(self, changes: Iterable[StageChange]) -> None:
        self._s.deal_history.extend(changes)


class InMemoryDealLinkRepository(_Repository):
    async def link(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, other_id: UUID, now: datetime
    ) -> tuple[datetime, bool]:
        if _other(self._s, kind, workspace_id, other_id) is None:
            raise (ContactNotFound if kind is LinkedObject.CONTACT else CompanyNotFound)(
                f"No {kind.value} {other_id} in this workspace."
            )
        key = (kind.value, workspace_id, deal_id, other_id)
        if key in self._s.deal_links:
            return self._s.deal_links[key], False
        self._s.deal_links[key] = now
        return now, True

    async def unlink(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, other_id: UUID
    ) -> bool:
        return (
            self._s.deal_links.pop((kind.value, workspace_id, deal_id, other_id), None) is not None
        )


def _other(s: MemoryState, kind: LinkedObject, workspace_id: UUID, other_id: UUID) -> object | None:
    found: Contact | Company | None = (
        s.contacts if kind is LinkedObject.CONTACT else s.companies
    ).get(other_id)
    return (
        found
        if found is not None and getattr(found, "workspace_id", None) == workspace_id
        else None
    )


class InMemoryPipelineReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        return await InMemoryPipelineRepository(self._store.state).get(workspace_id, pipeline_id)

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Pipeline]:
        mine = (p for p in self._store.state.pipelines.values() if p.workspace_id == workspace_id)
        return keyset_page(mine, lambda p: (p.created_at, p.id), page)

    async def summary(
        self, workspace_id: UUID, pipeline_id: UUID
    ) -> builtins.list[StageSummary] | None:
        pipeline = await self.get(workspace_id, pipeline_id)
        if pipeline is None:
            return None
        deals = [d for d in self._store.state.deals.values() if d.pipeline_id == pipeline_id]
        result: builtins.list[StageSummary] = []
        for stage in pipeline.stages:
            here = [d for d in deals if d.stage_id == stage.id]
            totals: dict[str, tuple[int, int]] = {}
            for d in here:
                if d.currency is not None and d.amount_minor is not None:
                    n, total = totals.get(d.currency, (0, 0))
                    totals[d.currency] = (n + 1, total + d.amount_minor)
            by_currency = [CurrencyTotal(c, n, t) for c, (n, t) in sorted(totals.items())]
            result.append(StageSummary(stage, len(here), by_currency))
        return result


class InMemoryDealReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        return await InMemoryDealRepository(self._store.state).get_for_update(workspace_id, deal_id)

    async def list(self, workspace_id: UUID, page: PageRequest, where: DealFilter) -> Page[Deal]:
        rows = [
            d
            for d in self._store.state.deals.values()
            if d.workspace_id == workspace_id
            and where.pipeline_id in (None, d.pipeline_id)
            and where.stage_id in (None, d.stage_id)
            and where.status in (None, d.status)
            and set(where.tags) <= set(d.tags)
        ]
        return keyset_page(rows, lambda d: (d.created_at, d.id), page)

    async def history(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[StageChange] | None:
        if await self.get(workspace_id, deal_id) is None:
            return None
        rows = [h for h in self._store.state.deal_history if h.deal_id == deal_id]
        return keyset_page(rows, lambda h: (h.moved_at, h.id), page)

    async def deals_of(
        self, kind: LinkedObject, workspace_id: UUID, other_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Deal]] | None:
        s = self._store.state
        if _other(s, kind, workspace_id, other_id) is None:
            return None
        links = [
            LinkedTo(s.deals[k[2]], at)
            for k, at in s.deal_links.items()
            if k[0] == kind.value and k[1] == workspace_id and k[3] == other_id and k[2] in s.deals
        ]
        return keyset_page(links, lambda x: (x.linked_at, x.item.id), page)

    async def contacts_of(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Contact]] | None:
        return await self._linked(LinkedObject.CONTACT, workspace_id, deal_id, page)  # type: ignore[return-value]

    async def companies_of(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Company]] | None:
        return await self._linked(LinkedObject.COMPANY, workspace_id, deal_id, page)  # type: ignore[return-value]

    async def _linked(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[object]] | None:
        s = self._store.state
        if await self.get(workspace_id, deal_id) is None:
            return None
        # Links to an object deleted since are gone too (ON DELETE CASCADE in Postgres).
        links = [
            LinkedTo(other, at)
            for k, at in s.deal_links.items()
            if k[0] == kind.value
            and k[1] == workspace_id
            and k[2] == deal_id
            and (other := _other(s, kind, workspace_id, k[3])) is not None
        ]
        return keyset_page(links, lambda x: (x.linked_at, x.item.id), page)  # type: ignore[attr-defined]
