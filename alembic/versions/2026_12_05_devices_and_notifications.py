"""events out: push notification devices, notification settings and task reminders

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("app_version", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "platform IN ('ios', 'android', 'web')", name=op.f("ck_device_platform")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_device_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("token", name=op.f("uq_device_token")),
    )
    op.create_index("ix_device_user_id_created_at_id", "device", ["user_id", "created_at", "id"])
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column(
            "muted",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("reminder_lead_minutes", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
        sa.CheckConstraint(
            "reminder_lead_minutes BETWEEN 0 AND 10080",
            name=op.f("ck_notification_settings_reminder_lead_minutes_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_settings_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_index(
        "ix_notification_settings_reminder_lead_minutes",
        "notification_settings",
        ["reminder_lead_minutes"],
    )
    op.create_table(
        "task_reminder",
        sa.Column("task_id", sa.UUID(), nullable=False),
        _ts("due_at"),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        _ts("remind_at"),
        _ts("sent_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_reminder_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "due_at", "user_id", name=op.f("pk_task_reminder")),
    )
    op.create_index(
        "ix_task_reminder_unsent",
        "task_reminder",
        ["remind_at"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index("ix_task_reminder_due_at", "task_reminder", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_task_reminder_due_at", table_name="task_reminder")
    op.drop_index("ix_task_reminder_unsent", table_name="task_reminder")
    op.drop_table("task_reminder")
    op.drop_index(
        "ix_notification_settings_reminder_lead_minutes", table_name="notification_settings"
    )
    op.drop_table("notification_settings")
    op.drop_index("ix_device_user_id_created_at_id", table_name="device")
    op.drop_table("device")
