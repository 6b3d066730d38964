"""The relational schema: the only description Alembic migrations are checked against."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_ROLES = "role IN ('owner', 'admin', 'member')"
_STAGES = (
    "lifecycle_stage IN ('subscriber', 'lead', 'marketing_qualified_lead', "
    "'sales_qualified_lead', 'opportunity', 'customer', 'evangelist', 'other')"
)


def _ts(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


workspace = Table(
    "workspace",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    _ts("created_at"),
)

user_account = Table(
    "user_account",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("firebase_uid", Text, unique=True),
    Column("email", Text),
    Column("email_verified", Boolean, nullable=False, server_default=text("false")),
    Column("display_name", Text),
    Column("picture_url", Text),
    _ts("created_at"),
)

member = Table(
    "member",
    metadata,
    Column("workspace_id", UUID(as_uuid=True), ForeignKey("workspace.id", ondelete="CASCADE")),
    Column("user_id", UUID(as_uuid=True), ForeignKey("user_account.id", ondelete="CASCADE")),
    Column("role", Text, nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("workspace_id", "user_id"),
    CheckConstraint(_ROLES, name="role"),
    Index("ix_member_user_id", "user_id"),
)

api_key = Table(
    "api_key",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("secret_hash", Text, nullable=False, unique=True),
    Column("scopes", ARRAY(Text), nullable=False),
    _ts("created_at"),
    _ts("expires_at", nullable=True),
    _ts("last_used_at", nullable=True),
    _ts("revoked_at", nullable=True),
    Column("created_by", UUID(as_uuid=True)),
    CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
)

invitation = Table(
    "invitation",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("invited_by", UUID(as_uuid=True), nullable=False),
    Column("nonce_hash", Text, nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("accepted_at", nullable=True),
    Column("accepted_by", UUID(as_uuid=True), ForeignKey("user_account.id", ondelete="SET NULL")),
    _ts("revoked_at", nullable=True),
    _ts("sent_at", nullable=True),
    Column("send_attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_send_error", Text),
    CheckConstraint(_ROLES, name="role"),
    Index("ix_invitation_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
    # One open invitation per address and workspace: a second is a resend, not a new one.
    Index(
        "uq_invitation_open_email",
        "workspace_id",
        "email",
        unique=True,
        postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
    ),
)

contact = Table(
    "contact",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("display_name", Text),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("emails", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("phones", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("job_title", Text),
    Column("company_name", Text),
    Column("owner_id", UUID(as_uuid=True), ForeignKey("user_account.id", ondelete="SET NULL")),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("lifecycle_stage", Text, nullable=False),
    Column("custom_fields", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint(_STAGES, name="lifecycle_stage"),
    CheckConstraint("version >= 1", name="version_positive"),
    Index("ix_contact_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
)

contact_email = Table(
    "contact_email",
    metadata,
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("email", Text, nullable=False),
    Column(
        "contact_id",
        UUID(as_uuid=True),
        ForeignKey("contact.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    PrimaryKeyConstraint("workspace_id", "email"),
)

outbox_event = Table(
    "outbox_event",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("topic", Text, nullable=False),
    Column("aggregate_type", Text, nullable=False),
    Column("aggregate_id", UUID(as_uuid=True), nullable=False),
    Column("actor_id", UUID(as_uuid=True)),
    Column("payload", JSONB, nullable=False),
    _ts("occurred_at"),
    _ts("published_at", nullable=True),
    Index(
        "ix_outbox_event_unpublished",
        "occurred_at",
        postgresql_where=text("published_at IS NULL"),
    ),
    Index("ix_outbox_event_aggregate_id", "aggregate_id"),
)

idempotency_key = Table(
    "idempotency_key",
    metadata,
    # No foreign key: a person acting outside any workspace keeps keys under the nil UUID.
    # Keys of a deleted workspace go with the daily purge.
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("credential_id", UUID(as_uuid=True), nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("body", LargeBinary, nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("workspace_id", "credential_id", "key"),
    Index("ix_idempotency_key_created_at", "created_at"),
)
