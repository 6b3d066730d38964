"""Ports of batch writes: many records read, locked and written in a bounded number of
round trips, inside the unit of work of the batch."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, TypeVar
from uuid import UUID

from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal

R = TypeVar("R")


class BatchStore(Protocol[R]):
    async def lock(
        self, workspace_id: UUID, ids: Collection[UUID], keys: Mapping[str, Collection[str]]
    ) -> list[R]:
        """One statement: the records of the workspace with one of `ids` or holding one of the
        key values (`keys` by key name, e.g. {"email": [...]}), locked until the end."""

    async def add_many(self, records: Sequence[R]) -> None:
        """Insert new records; a unique value taken meanwhile raises a Conflict (AlreadyExists)."""

    async def save_many(self, records: Sequence[R]) -> None:
        """Write records that `lock` returned; a unique value taken meanwhile raises a Conflict."""


class BatchStores(Protocol):
    contacts: BatchStore[Contact]
    companies: BatchStore[Company]
    deals: BatchStore[Deal]

    async def members_among(self, workspace_id: UUID, user_ids: Collection[UUID]) -> set[UUID]:
        """Which of `user_ids` are members of the workspace (one statement)."""
