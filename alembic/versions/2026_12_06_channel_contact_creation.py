"""conversations: whether a WhatsApp channel creates contacts for unknown numbers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "whatsapp_channel",
        sa.Column("create_contacts", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("whatsapp_channel", "create_contacts")
