"""CSV imports: a job that writes the rows of an uploaded file through the batch use cases."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.permissions import Action

STALE_AFTER = timedelta(minutes=10)
"""A running job whose progress has not moved for this long lost its process (a crash or a
kill, which leaves no chance to say so): reads report it failed. A chunk takes seconds."""
INTERRUPTED = "interrupted: the API process running the import stopped; import the file again"


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Dedupe(enum.StrEnum):
    """What a row whose natural key (email, domain ...) is taken does."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


class ImportObject(enum.StrEnum):
    CONTACTS = "contacts"
    COMPANIES = "companies"
    DEALS = "deals"

    @property
    def object_type(self) -> ObjectType:
        return _OBJECT_TYPES[self]

    @property
    def write_action(self) -> Action:
        return _WRITE[self]

    @property
    def read_action(self) -> Action:
        return _READ[self]


_OBJECT_TYPES = {
    ImportObject.CONTACTS: ObjectType.CONTACT,
    ImportObject.COMPANIES: ObjectType.COMPANY,
    ImportObject.DEALS: ObjectType.DEAL,
}
_WRITE = {
    ImportObject.CONTACTS: Action.WRITE_CONTACTS,
    ImportObject.COMPANIES: Action.WRITE_COMPANIES,
    ImportObject.DEALS: Action.WRITE_DEALS,
}
_READ = {
    ImportObject.CONTACTS: Action.READ_CONTACTS,
    ImportObject.COMPANIES: Action.READ_COMPANIES,
    ImportObject.DEALS: Action.READ_DEALS,
}


class SkipReason(enum.StrEnum):
    """Why a row was skipped: neither written nor failed."""

    EXISTING_RECORD = "existing_record"
    """Its key matched a record and the dedupe rule is `skip`."""
    BLANK_ROW = "blank_row"
    """Nothing but empty cells (a blank line, or `,,,` as spreadsheets leave)."""


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """Rows handled so far and what became of them (`failed` counts unreadable rows too;
    `skipped` every skipped row, `skipped_blank` the blank ones among them)."""

    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    skipped_blank: int = 0

    def __add__(self, other: ImportCounts) -> ImportCounts:
        return ImportCounts(
            *(getattr(self, f) + getattr(other, f) for f in ImportCounts.__dataclass_fields__)
        )

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in ImportCounts.__dataclass_fields__}

    def skipped_by_reason(self) -> dict[SkipReason, int]:
        return {
            SkipReason.EXISTING_RECORD: self.skipped - self.skipped_blank,
            SkipReason.BLANK_ROW: self.skipped_blank,
        }


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A row that was not written: its line in the file, why, and its cells as read."""

    line: int
    code: str
    message: str
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: UUID
    workspace_id: UUID
    object_type: ImportObject
    dedupe: Dedupe
    match_on: str | None
    mapping: Mapping[str, str]
    """CSV column → field, as applied (explicit and automatic)."""
    columns: tuple[str, ...]
    """The file's header row, in order."""
    ignored_columns: tuple[str, ...]
    file_name: str | None
    created_by: UUID
    created_at: datetime
    status: ImportStatus = ImportStatus.QUEUED
    rows_total: int | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    failed_rows_kept: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    error: str | None = None

    @property
    def failed_rows_dropped(self) -> int:
        """Failed rows beyond the kept ones (the download stops at the cap)."""
        return max(0, self.counts.failed - self.failed_rows_kept)

    def seen_at(self, now: datetime) -> ImportJob:
        """The job as a reader should see it: one whose progress stopped long ago failed."""
        if self.status in (ImportStatus.DONE, ImportStatus.FAILED):
            return self
        last = self.updated_at or self.started_at or self.created_at
        if now - last < STALE_AFTER:
            return self
        return replace(self, status=ImportStatus.FAILED, error=INTERRUPTED)
