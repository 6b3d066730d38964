"""Ports of the deal slice: pipelines with their stages, deals, their stage history and links."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal, DealStatus, LinkedObject, LinkedTo, StageChange
from crm.domain.model.pipeline import Pipeline, Stage, StageSummary
from crm.domain.pagination import Page, PageRequest


class PipelineRepository(Protocol):
    async def add(self, pipeline: Pipeline) -> None:
        """Insert the pipeline and its stages."""

    async def get(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        """Load with its stages and a shared lock: stages cannot change under a deal write."""

    async def get_default(self, workspace_id: UUID) -> Pipeline | None:
        """The workspace's default pipeline, shared-locked like `get`."""

    async def get_for_update(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        """Load with its stages and lock it until the unit of work ends."""

    async def save(self, pipeline: Pipeline, expected_version: int) -> None:
        """Write the pipeline and its stages as they now are (stages gone are deleted);
        raises VersionConflict if the stored version moved on."""

    async def clear_default(self, workspace_id: UUID) -> None:
        """No pipeline of the workspace is the default any more (before making one so).
        Serialized per workspace until the unit of work ends, so concurrent switches each
        see the default the one before them made."""

    async def remove(self, pipeline: Pipeline) -> None: ...


class DealRepository(Protocol):
    async def add(self, deal: Deal) -> None: ...

    async def get(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        """Read within the unit of work, without locking."""

    async def get_for_update(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        """Load and lock the deal until the unit of work ends."""

    async def save(self, deal: Deal, expected_version: int) -> None:
        """Write changes; raises VersionConflict if the stored version moved on."""

    async def remove(self, deal: Deal) -> None:
        """Delete the deal with its stage history and links."""

    async def count_in(self, workspace_id: UUID, pipeline_id: UUID, stage_id: UUID | None) -> int:
        """How many deals are in the stage (or, with None, anywhere in the pipeline)."""

    async def move_all(
        self, workspace_id: UUID, from_stage_id: UUID, to: Stage, now: datetime
    ) -> list[tuple[UUID, DealStatus]]:
        """Move every deal of one stage to another of the same pipeline, as `Deal.move_to`
        would; returns each moved deal's id and former status."""

    async def add_history(self, changes: Iterable[StageChange]) -> None: ...


class DealLinkRepository(Protocol):
    async def link(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, other_id: UUID, now: datetime
    ) -> tuple[datetime, bool]:
        """Link the deal to a contact or company: when they were linked, and whether this call
        linked them (False: they were already). Raises ContactNotFound / CompanyNotFound when
        the other object is not in the workspace."""

    async def unlink(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, other_id: UUID
    ) -> bool:
        """False when there was no such link."""


@dataclass(frozen=True, slots=True)
class DealFilter:
    pipeline_id: UUID | None = None
    stage_id: UUID | None = None
    status: DealStatus | None = None
    tags: tuple[str, ...] = ()


class PipelineReader(Protocol):
    """Reads outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None: ...

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Pipeline]: ...

    async def summary(
        self, workspace_id: UUID, pipeline_id: UUID
    ) -> builtins.list[StageSummary] | None:
        """Per stage, in order: deal count and amounts per currency; None if no pipeline."""


class DealReader(Protocol):
    """Reads outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, deal_id: UUID) -> Deal | None: ...

    async def list(
        self, workspace_id: UUID, page: PageRequest, where: DealFilter
    ) -> Page[Deal]: ...

    async def history(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[StageChange] | None:
        """Oldest move first; None when there is no such deal."""

    async def deals_of(
        self, kind: LinkedObject, workspace_id: UUID, other_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Deal]] | None:
        """Deals linked to a contact or company, by link time; None when it does not exist."""

    async def contacts_of(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Contact]] | None:
        """Contacts linked to the deal, by link time; None when there is no such deal."""

    async def companies_of(
        self, workspace_id: UUID, deal_id: UUID, page: PageRequest
    ) -> Page[LinkedTo[Company]] | None:
        """Companies linked to the deal, by link time; None when there is no such deal."""
