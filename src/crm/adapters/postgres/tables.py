"""The relational schema: the only description Alembic migrations are checked against."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
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
    # The caller's own id for the contact (another system's key): an upsert matches on it.
    Column("external_id", Text),
    CheckConstraint(_STAGES, name="lifecycle_stage"),
    CheckConstraint("version >= 1", name="version_positive"),
    UniqueConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "external_id"),
    Index("ix_contact_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
    Index("ix_contact_tags", "tags", postgresql_using="gin"),
    # Upsert by phone and search by phone: phones are not unique, but found by index.
    Index("ix_contact_phones", "phones", postgresql_using="gin"),
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
    # The audit log, newest first on a keyset (#5 timeline and audit, migration 0008).
    Index("ix_outbox_event_workspace_id_occurred_at_id", "workspace_id", "occurred_at", "id"),
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


# Sales objects (#4). Every link between tenant rows is a composite foreign key that includes
# `workspace_id`, so the database itself refuses to tie a row of one workspace to another's.


def _tenant() -> Column[object]:
    return Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
    )


def _in_workspace(columns: list[str], table: str, ondelete: str) -> ForeignKeyConstraint:
    """A reference to `table` inside the same workspace: (workspace_id, <columns>)."""
    return ForeignKeyConstraint(
        ["workspace_id", *columns],
        [f"{table}.workspace_id", *(f"{table}.{c}" for c in _REFERRED[table])],
        ondelete=ondelete,
        name=f"fk_{'_'.join(columns)}_{table}_in_workspace",
    )


_REFERRED = {
    "contact": ["id"],
    "company": ["id"],
    "deal": ["id"],
    "pipeline": ["id"],
    "pipeline_stage": ["pipeline_id", "id"],
}
_OBJECT_TYPES = "object_type IN ('contact', 'company', 'deal')"
_FIELD_TYPES = (
    "field_type IN ('text', 'number', 'boolean', 'date', 'datetime', 'url', 'email', 'phone', "
    "'single_select', 'multi_select')"
)

company = Table(
    "company",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("name", Text, nullable=False),
    Column("domain", Text),
    Column("industry", Text),
    Column("size_band", Text),
    Column("country", Text),
    Column("address", JSONB),
    Column("website", Text),
    Column("owner_id", UUID(as_uuid=True), ForeignKey("user_account.id", ondelete="SET NULL")),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("custom_fields", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint("version >= 1", name="version_positive"),
    UniqueConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "domain"),
    Index("ix_company_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
    Index("ix_company_tags", "tags", postgresql_using="gin"),
)

contact_company = Table(
    "contact_company",
    metadata,
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True), nullable=False),
    Column("company_id", UUID(as_uuid=True), nullable=False),
    Column("is_primary", Boolean, nullable=False, server_default=text("false")),
    _ts("created_at"),
    PrimaryKeyConstraint("workspace_id", "contact_id", "company_id"),
    _in_workspace(["contact_id"], "contact", "CASCADE"),
    _in_workspace(["company_id"], "company", "CASCADE"),
    Index(
        "ix_contact_company_company",
        "workspace_id",
        "company_id",
        "created_at",
        "contact_id",
    ),
    Index(
        "uq_contact_company_one_primary",
        "workspace_id",
        "contact_id",
        unique=True,
        postgresql_where=text("is_primary"),
    ),
)

pipeline = Table(
    "pipeline",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("name", Text, nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    UniqueConstraint("workspace_id", "id"),
    Index("ix_pipeline_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
    Index(
        "uq_pipeline_one_default",
        "workspace_id",
        unique=True,
        postgresql_where=text("is_default"),
    ),
)

pipeline_stage = Table(
    "pipeline_stage",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("pipeline_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("probability", SmallInteger, nullable=False),
    Column("kind", Text, nullable=False),
    _ts("created_at"),
    _in_workspace(["pipeline_id"], "pipeline", "CASCADE"),
    UniqueConstraint("workspace_id", "pipeline_id", "id"),
    # Reordering rewrites every position in one transaction: checked at commit.
    UniqueConstraint("pipeline_id", "position", deferrable=True, initially="DEFERRED"),
    CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
    CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind"),
)

deal = Table(
    "deal",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("name", Text, nullable=False),
    Column("amount", BigInteger),
    Column("currency", Text),
    Column("pipeline_id", UUID(as_uuid=True), nullable=False),
    Column("stage_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("owner_id", UUID(as_uuid=True), ForeignKey("user_account.id", ondelete="SET NULL")),
    Column("expected_close_date", Date),
    _ts("closed_at", nullable=True),
    Column("external_id", Text),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("custom_fields", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    # A deal's stage is a stage of its own pipeline, in its own workspace.
    _in_workspace(["pipeline_id", "stage_id"], "pipeline_stage", "RESTRICT"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("status IN ('open', 'won', 'lost')", name="status"),
    CheckConstraint("(amount IS NULL) = (currency IS NULL)", name="amount_has_currency"),
    UniqueConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "external_id"),
    Index("ix_deal_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
    Index("ix_deal_stage", "workspace_id", "pipeline_id", "stage_id"),
    Index("ix_deal_tags", "tags", postgresql_using="gin"),
)

deal_stage_history = Table(
    "deal_stage_history",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("deal_id", UUID(as_uuid=True), nullable=False),
    # No foreign keys to stages: history outlives a stage that is later deleted.
    Column("from_stage_id", UUID(as_uuid=True)),
    Column("to_stage_id", UUID(as_uuid=True), nullable=False),
    Column("moved_by", UUID(as_uuid=True)),
    _ts("moved_at"),
    _in_workspace(["deal_id"], "deal", "CASCADE"),
    Index("ix_deal_stage_history_deal", "workspace_id", "deal_id", "moved_at", "id"),
)


def _deal_link(name: str, other: str) -> Table:
    return Table(
        name,
        metadata,
        Column("workspace_id", UUID(as_uuid=True), nullable=False),
        Column("deal_id", UUID(as_uuid=True), nullable=False),
        Column(f"{other}_id", UUID(as_uuid=True), nullable=False),
        _ts("created_at"),
        PrimaryKeyConstraint("workspace_id", "deal_id", f"{other}_id"),
        _in_workspace(["deal_id"], "deal", "CASCADE"),
        _in_workspace([f"{other}_id"], other, "CASCADE"),
        Index(f"ix_{name}_{other}", "workspace_id", f"{other}_id", "created_at", "deal_id"),
    )


deal_contact = _deal_link("deal_contact", "contact")
deal_company = _deal_link("deal_company", "company")

custom_field = Table(
    "custom_field",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("object_type", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("field_type", Text, nullable=False),
    Column("options", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    _ts("archived_at", nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint(_OBJECT_TYPES, name="object_type"),
    CheckConstraint(_FIELD_TYPES, name="field_type"),
    UniqueConstraint("workspace_id", "object_type", "key"),
    Index("ix_custom_field_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
)

tag = Table(
    "tag",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("name", Text, nullable=False),
    Column("color", Text),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    UniqueConstraint("workspace_id", "name"),
    Index("ix_tag_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
)

# A note belongs to one contact, company or deal (`record_type`, `record_id`): the use cases
# check the record exists in the workspace and delete its notes with it.
note = Table(
    "note",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("record_type", Text, nullable=False),
    Column("record_id", UUID(as_uuid=True), nullable=False),
    Column("text", Text, nullable=False),
    # The user or API key that wrote it.
    Column("author_id", UUID(as_uuid=True), nullable=False),
    Column("pinned", Boolean, nullable=False, server_default=text("false")),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint("record_type IN ('contact', 'company', 'deal')", name="record_type"),
    CheckConstraint("char_length(text) BETWEEN 1 AND 10000", name="text_length"),
    CheckConstraint("version >= 1", name="version_positive"),
    Index(
        "ix_note_record",
        "workspace_id",
        "record_type",
        "record_id",
        "pinned",
        "created_at",
        "id",
    ),
)

# A task may be about one contact, company or deal (checked by the use cases); when that
# record is deleted the task stays, about no record.
task = Table(
    "task",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _tenant(),
    Column("title", Text, nullable=False),
    Column("description", Text),
    _ts("due_at", nullable=True),
    Column("assignee_id", UUID(as_uuid=True), ForeignKey("user_account.id", ondelete="SET NULL")),
    Column("priority", Text, nullable=False),
    _ts("done_at", nullable=True),
    Column("record_type", Text),
    Column("record_id", UUID(as_uuid=True)),
    # The user or API key that created it.
    Column("created_by", UUID(as_uuid=True), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint("priority IN ('low', 'normal', 'high')", name="priority"),
    CheckConstraint(
        "(record_type IN ('contact', 'company', 'deal') AND record_id IS NOT NULL)"
        " OR (record_type IS NULL AND record_id IS NULL)",
        name="record",
    ),
    CheckConstraint("version >= 1", name="version_positive"),
    # "My open tasks, overdue first" and any assignee's open tasks.
    Index(
        "ix_task_open_by_assignee",
        "workspace_id",
        "assignee_id",
        "due_at",
        "id",
        postgresql_where=text("done_at IS NULL"),
    ),
    # The reminder worker: open tasks coming due, across workspaces.
    Index("ix_task_open_due_at", "due_at", postgresql_where=text("done_at IS NULL")),
    Index("ix_task_workspace_id_due_at_id", "workspace_id", "due_at", "id"),
    Index(
        "ix_task_record",
        "workspace_id",
        "record_type",
        "record_id",
        postgresql_where=text("record_id IS NOT NULL"),
    ),
)

# A contact or company merged into another (#5): the source row is deleted once everything it
# had moved to the survivor; this tombstone lets a read of the old id answer 404 naming
# `merged_into`. When the survivor is merged on later, its tombstones follow it.
merged_record = Table(
    "merged_record",
    metadata,
    _tenant(),
    Column("record_type", Text, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("merged_into", UUID(as_uuid=True), nullable=False),
    Column("merged_by", UUID(as_uuid=True)),
    _ts("merged_at"),
    PrimaryKeyConstraint("workspace_id", "record_type", "id"),
    CheckConstraint("record_type IN ('contact', 'company')", name="record_type"),
    Index("ix_merged_record_merged_into", "workspace_id", "record_type", "merged_into"),
)


# Timeline and audit (#5, migration 0008): one row per record an outbox event concerns (its
# aggregate and the records its payload names, `domain/model/timeline.py`), written in the same
# statement as the event. The primary key is the keyset index of a record's timeline, newest
# first. No foreign keys (to the workspace or the event), like the outbox itself: rows are only
# ever inserted with their event, in one statement, and like it they are kept.
outbox_event_record = Table(
    "outbox_event_record",
    metadata,
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column("record_type", Text, nullable=False),
    Column("record_id", UUID(as_uuid=True), nullable=False),
    _ts("occurred_at"),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    PrimaryKeyConstraint("workspace_id", "record_type", "record_id", "occurred_at", "event_id"),
)

# Events out (#14, migration 0009): which handler has handled which event, the consumers'
# idempotency guard. Kept as long as a message can come back (CRM_PROCESSED_EVENT_RETENTION_DAYS,
# longer than SQS keeps any message); `crm outbox purge` forgets older ones.
processed_event = Table(
    "processed_event",
    metadata,
    Column("handler", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    _ts("processed_at"),
    PrimaryKeyConstraint("handler", "event_id"),
    Index("ix_processed_event_processed_at", "processed_at"),
)

# --- search (#5 item 1, migration 0007) -----------------------------------------------------
# Trigram (pg_trgm) indexes behind `?q=`: the text a search looks in, built by the IMMUTABLE
# SQL functions the migration creates (the queries call the same functions).
Index(
    "ix_contact_search_text",
    func.crm_contact_search_text(
        contact.c.display_name,
        contact.c.first_name,
        contact.c.last_name,
        contact.c.emails,
        contact.c.phones,
    ).label("search_text"),
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)
Index(
    "ix_company_search_text",
    func.crm_company_search_text(company.c.name, company.c.domain).label("search_text"),
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)
Index(
    "ix_deal_name_trgm",
    deal.c.name,
    postgresql_using="gin",
    postgresql_ops={"name": "gin_trgm_ops"},
)

# --- webhooks (#14 item 2, migration 0010) -------------------------------------------------
# The signing secrets are stored as they are: a receiver verifies with the same secret, so
# the service must be able to sign with it (a hash would not do).
webhook_subscription = Table(
    "webhook_subscription",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("url", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("fields", ARRAY(Text)),
    Column("description", Text),
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    _ts("previous_secret_expires_at", nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    _ts("disabled_at", nullable=True),
    _ts("failing_since", nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint("cardinality(event_types) > 0", name="event_types_not_empty"),
    Index("ix_webhook_subscription_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
)

# One row per (subscription, event); the body is the JSON sent, made once. Due rows are
# claimed FOR UPDATE SKIP LOCKED through the partial index on pending ones.
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    Column(
        "subscription_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_subscription.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    _ts("next_attempt_at", nullable=True),
    _ts("give_up_at"),
    _ts("last_attempt_at", nullable=True),
    Column("status_code", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
    _ts("created_at"),
    UniqueConstraint("subscription_id", "event_id"),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    Index(
        "ix_webhook_delivery_subscription_id_created_at_id",
        "subscription_id",
        "created_at",
        "id",
    ),
    Index(
        "ix_webhook_delivery_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_webhook_delivery_created_at", "created_at"),
)

# --- push notifications (#14 item 4, migration 0011) ------------------------------------------
# A device is an FCM registration token of one app install; it belongs to one person (the last
# to register it), across their workspaces, so the token is unique on its own.
device = Table(
    "device",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "user_id",
        UUID(as_uuid=True),
        ForeignKey("user_account.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("token", Text, nullable=False, unique=True),
    Column("platform", Text, nullable=False),
    Column("app_version", Text),
    _ts("created_at"),
    _ts("updated_at"),
    CheckConstraint("platform IN ('ios', 'android', 'web')", name="platform"),
    Index("ix_device_user_id_created_at_id", "user_id", "created_at", "id"),
)

# Per person; no row means the defaults (nothing muted, 15 minutes). The lead time index
# lets the reminder planner find the few people whose lead is longer than the default.
notification_settings = Table(
    "notification_settings",
    metadata,
    Column(
        "user_id",
        UUID(as_uuid=True),
        ForeignKey("user_account.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("muted", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("reminder_lead_minutes", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    _ts("updated_at"),
    CheckConstraint(
        "reminder_lead_minutes BETWEEN 0 AND 10080", name="reminder_lead_minutes_range"
    ),
    Index("ix_notification_settings_reminder_lead_minutes", "reminder_lead_minutes"),
)

# One reminder per (task, due time, assignee): rescheduling or reassigning a task makes a new
# one, and the key keeps two schedulers from planning it twice. Planned rows (sent_at null)
# are claimed FOR UPDATE SKIP LOCKED and marked sent in the same transaction as the claim.
task_reminder = Table(
    "task_reminder",
    metadata,
    Column("task_id", UUID(as_uuid=True), ForeignKey("task.id", ondelete="CASCADE")),
    _ts("due_at"),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("workspace_id", UUID(as_uuid=True), nullable=False),
    _ts("remind_at"),
    _ts("sent_at", nullable=True),
    PrimaryKeyConstraint("task_id", "due_at", "user_id"),
    Index("ix_task_reminder_unsent", "remind_at", postgresql_where=text("sent_at IS NULL")),
    Index("ix_task_reminder_due_at", "due_at"),
)

# --- WhatsApp channels (#15 item 1, migration 0012) ------------------------------------------
# A phone number id is unique across workspaces: Meta sends its events to one place. The
# access token is stored encrypted (Fernet, keys from settings), never in the clear.
whatsapp_channel = Table(
    "whatsapp_channel",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("phone_number_id", Text, nullable=False, unique=True),
    Column("display_phone_number", Text, nullable=False),
    Column("name", Text),
    Column("access_token_encrypted", Text, nullable=False),
    Column("access_token_last4", Text, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    # Migration 0013: whether a message from an unknown number creates a contact.
    Column("create_contacts", Boolean, nullable=False, server_default=text("false")),
    Index("ix_whatsapp_channel_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
)

# --- Attachments (migration 0014) --------------------------------------------------------------
# A file on a contact, company, deal or note (no foreign key: the record is one of four
# tables). The file is in the blob store under `attachments/{id}` (so a merge moves the row only);
# the row says what was started and, once confirmed, what arrived.
attachment = Table(
    "attachment",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "workspace_id",
        UUID(as_uuid=True),
        ForeignKey("workspace.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("record_type", Text, nullable=False),
    Column("record_id", UUID(as_uuid=True), nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("max_bytes", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("size", BigInteger),
    Column("created_by", UUID(as_uuid=True), nullable=False),
    _ts("created_at"),
    _ts("confirmed_at", nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint(
        "record_type IN ('contact', 'company', 'deal', 'note')", name="record_type_known"
    ),
    CheckConstraint("status IN ('pending', 'ready')", name="status_known"),
    CheckConstraint(
        "(status = 'ready') = (size IS NOT NULL AND confirmed_at IS NOT NULL)",
        name="ready_has_size",
    ),
    # A record's attachments, newest first (keyset; the list reads the ready ones, a deleted
    # or merged record's handler all of them).
    Index(
        "ix_attachment_of_record", "workspace_id", "record_type", "record_id", "created_at", "id"
    ),
)
