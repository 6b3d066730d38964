"""events out: which handler has handled which event (the consumers' idempotency guard)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_event",
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handler", "event_id", name=op.f("pk_processed_event")),
    )
    op.create_index(
        op.f("ix_processed_event_processed_at"), "processed_event", ["processed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_event_processed_at"), table_name="processed_event")
    op.drop_table("processed_event")
