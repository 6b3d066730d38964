"""What a batch takes and gives back: the command, the operations, one result per item."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crm.domain.errors import DomainError
from crm.domain.model.permissions import Principal


class BatchOperation(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"


class ItemStatus(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BatchCommand:
    """`items` are raw field mappings as JSON bodies carry them: create-like bodies for create
    and upsert, `{"id", "if_match"?, ...fields}` for update. `match_on` is the upsert key (None:
    the object's default); `on_match="skip"` leaves a matched record alone (SKIPPED)."""

    principal: Principal
    operation: BatchOperation
    items: Sequence[Mapping[str, Any]]
    match_on: str | None = None
    on_match: Literal["update", "skip"] = "update"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item: the record as stored (visible custom fields) or the error."""

    index: int
    status: ItemStatus
    record: Any | None
    error: DomainError | None
