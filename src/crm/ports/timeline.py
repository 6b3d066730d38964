"""Ports of the timeline and audit slice: reading the outbox as a history."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from crm.domain.model.note import RecordType
from crm.domain.model.timeline import AuditFilter, EventPage, EventPosition, MergedAway


class EventReader(Protocol):
    """Reads of recorded events, newest first: one round trip each, never locking."""

    async def timeline(
        self,
        workspace_id: UUID,
        record_type: RecordType,
        record_id: UUID,
        limit: int,
        after: EventPosition | None,
    ) -> EventPage | MergedAway | None:
        """The events concerning a contact, company or deal (and the records merged into
        it); MergedAway when it was merged into another, None when there is no such record in
        the workspace."""

    async def audit(
        self, workspace_id: UUID, filters: AuditFilter, limit: int, after: EventPosition | None
    ) -> EventPage:
        """The workspace's events matching `filters`."""
