"""Replaying a workspace's events from the outbox for a resumed stream, on the read pool."""

from __future__ import annotations

from uuid import UUID

from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.timeline import EventPosition

_POSITION = "SELECT occurred_at, id FROM outbox_event WHERE id = $2 AND workspace_id = $1"
# A range scan of ix_outbox_event_workspace_id_occurred_at_id, whatever the outbox holds.
_AFTER = (
    "SELECT id, workspace_id, topic, aggregate_type, aggregate_id, actor_id, occurred_at, payload "
    "FROM outbox_event WHERE workspace_id = $1 AND (occurred_at, id) > ($2, $3) "
    "ORDER BY occurred_at, id LIMIT $4"
)


class AsyncpgEventReplay:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def position(self, workspace_id: UUID, event_id: UUID) -> EventPosition | None:
        row = await self._pool.fetchrow(_POSITION, workspace_id, event_id)
        return None if row is None else EventPosition(row["occurred_at"], row["id"])

    async def after(
        self, workspace_id: UUID, position: EventPosition, limit: int
    ) -> list[PublishedEvent]:
        rows = await self._pool.fetch(
            _AFTER, workspace_id, position.occurred_at, position.id, limit
        )
        return [
            PublishedEvent(
                id=row["id"],
                type=row["topic"],
                workspace_id=row["workspace_id"],
                aggregate_type=row["aggregate_type"],
                aggregate_id=row["aggregate_id"],
                actor_id=row["actor_id"],
                occurred_at=row["occurred_at"],
                payload=row["payload"],
            )
            for row in rows
        ]
