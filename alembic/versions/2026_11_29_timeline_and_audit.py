"""timeline and audit: which records each recorded event concerns, newest first

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Events recorded before this revision: the records they concern, by the same rules as
# `crm.domain.model.timeline.RULES` (task.completed/reopened did not name their record yet,
# so those old ones show on the task's own history only).
_BACKFILL = """
INSERT INTO outbox_event_record (workspace_id, record_type, record_id, occurred_at, event_id)
SELECT DISTINCT e.workspace_id, c.record_type, c.record_id, e.occurred_at, e.id
FROM outbox_event e
CROSS JOIN LATERAL (
    SELECT e.aggregate_type, e.aggregate_id
    UNION ALL
    SELECT 'company', (e.payload ->> 'company_id')::uuid
    WHERE e.topic IN ('contact.company_linked', 'contact.company_unlinked')
    UNION ALL
    SELECT 'company', (e.payload ->> k)::uuid
    FROM unnest(ARRAY['old_company_id', 'new_company_id']) AS k
    WHERE e.topic = 'contact.primary_company_changed'
    UNION ALL
    SELECT e.payload ->> 'record_type', (e.payload ->> 'record_id')::uuid
    WHERE e.topic LIKE 'note.%' OR e.topic LIKE 'task.%'
    UNION ALL
    SELECT e.payload ->> 'object_type', (e.payload ->> 'object_id')::uuid
    WHERE e.topic IN ('deal.linked', 'deal.unlinked')
) AS c(record_type, record_id)
WHERE c.record_type IS NOT NULL AND c.record_id IS NOT NULL
"""


def upgrade() -> None:
    op.create_index(
        "ix_outbox_event_workspace_id_occurred_at_id",
        "outbox_event",
        ["workspace_id", "occurred_at", "id"],
    )
    op.create_table(
        "outbox_event_record",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id",
            "record_type",
            "record_id",
            "occurred_at",
            "event_id",
            name=op.f("pk_outbox_event_record"),
        ),
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_table("outbox_event_record")
    op.drop_index("ix_outbox_event_workspace_id_occurred_at_id", table_name="outbox_event")
