"""attachments: files on contacts, companies, deals and notes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=False),
        _ts("created_at"),
        _ts("confirmed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "record_type IN ('contact', 'company', 'deal', 'note')",
            name=op.f("ck_attachment_record_type_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'ready')", name=op.f("ck_attachment_status_known")
        ),
        sa.CheckConstraint(
            "(status = 'ready') = (size IS NOT NULL AND confirmed_at IS NOT NULL)",
            name=op.f("ck_attachment_ready_has_size"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_attachment_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index(
        "ix_attachment_of_record",
        "attachment",
        ["workspace_id", "record_type", "record_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_attachment_of_record", table_name="attachment")
    op.drop_table("attachment")
