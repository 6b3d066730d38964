"""notes and tasks: notes on contacts, companies and deals; tasks (open ones indexed by
assignee and due time, and by due time alone for the reminder worker)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:55:37.235359+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "note",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=False),
        sa.Column("pinned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "record_type IN ('contact', 'company', 'deal')", name=op.f("ck_note_record_type")
        ),
        sa.CheckConstraint(
            "char_length(text) BETWEEN 1 AND 10000", name=op.f("ck_note_text_length")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_note_version_positive")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_note_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note")),
    )
    op.create_index(
        "ix_note_record",
        "note",
        ["workspace_id", "record_type", "record_id", "pinned", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "task",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.UUID(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record_type", sa.Text(), nullable=True),
        sa.Column("record_id", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high')", name=op.f("ck_task_priority")),
        sa.CheckConstraint(
            "(record_type IN ('contact', 'company', 'deal') AND record_id IS NOT NULL)"
            " OR (record_type IS NULL AND record_id IS NULL)",
            name=op.f("ck_task_record"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_task_version_positive")),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_task_assignee_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_task_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    op.create_index(
        "ix_task_open_by_assignee",
        "task",
        ["workspace_id", "assignee_id", "due_at", "id"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.create_index(
        "ix_task_open_due_at",
        "task",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.create_index(
        "ix_task_record",
        "task",
        ["workspace_id", "record_type", "record_id"],
        unique=False,
        postgresql_where=sa.text("record_id IS NOT NULL"),
    )
    op.create_index(
        "ix_task_workspace_id_due_at_id", "task", ["workspace_id", "due_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_task_workspace_id_due_at_id", table_name="task")
    op.drop_index(
        "ix_task_record", table_name="task", postgresql_where=sa.text("record_id IS NOT NULL")
    )
    op.drop_index(
        "ix_task_open_due_at", table_name="task", postgresql_where=sa.text("done_at IS NULL")
    )
    op.drop_index(
        "ix_task_open_by_assignee", table_name="task", postgresql_where=sa.text("done_at IS NULL")
    )
    op.drop_table("task")
    op.drop_index("ix_note_record", table_name="note")
    op.drop_table("note")
