"""conversations: connected WhatsApp Business phone numbers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "whatsapp_channel",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("phone_number_id", sa.Text(), nullable=False),
        sa.Column("display_phone_number", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("access_token_last4", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_whatsapp_channel_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_channel")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_whatsapp_channel_phone_number_id")),
    )
    op.create_index(
        "ix_whatsapp_channel_workspace_id_created_at_id",
        "whatsapp_channel",
        ["workspace_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_whatsapp_channel_workspace_id_created_at_id", table_name="whatsapp_channel")
    op.drop_table("whatsapp_channel")
