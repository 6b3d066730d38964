"""batch and merge: contacts get an external id (an upsert key) and an index on phones;
tombstones of merged contacts and companies

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contact", sa.Column("external_id", sa.Text(), nullable=True))
    op.create_unique_constraint(
        op.f("uq_contact_workspace_id_external_id"), "contact", ["workspace_id", "external_id"]
    )
    op.create_index("ix_contact_phones", "contact", ["phones"], postgresql_using="gin")
    op.create_table(
        "merged_record",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("merged_into", sa.UUID(), nullable=False),
        sa.Column("merged_by", sa.UUID(), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "record_type IN ('contact', 'company')", name=op.f("ck_merged_record_record_type")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_merged_record_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "record_type", "id", name=op.f("pk_merged_record")),
    )
    op.create_index(
        "ix_merged_record_merged_into",
        "merged_record",
        ["workspace_id", "record_type", "merged_into"],
    )


def downgrade() -> None:
    op.drop_index("ix_merged_record_merged_into", table_name="merged_record")
    op.drop_table("merged_record")
    op.drop_index("ix_contact_phones", table_name="contact", postgresql_using="gin")
    op.drop_constraint(op.f("uq_contact_workspace_id_external_id"), "contact", type_="unique")
    op.drop_column("contact", "external_id")
