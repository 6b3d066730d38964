"""Batch writes of contacts, companies and deals: create, update or upsert many items at once.

Per item, not atomic: every item gets its own result, in order; the good items are written
even when others fail, and a failed item leaves nothing behind (no row, no event)."""

from __future__ import annotations

from crm.domain.use_cases.batch.companies import BatchCompanies
from crm.domain.use_cases.batch.contacts import BatchContacts
from crm.domain.use_cases.batch.deals import BatchDeals
from crm.domain.use_cases.batch.types import (
    BatchCommand,
    BatchOperation,
    ItemResult,
    ItemStatus,
)

__all__ = [
    "BatchCommand",
    "BatchCompanies",
    "BatchContacts",
    "BatchDeals",
    "BatchOperation",
    "ItemResult",
    "ItemStatus",
]
