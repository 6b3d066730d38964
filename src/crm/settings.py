"""All configuration, from CRM_* environment variables or a .env file; read once at start-up."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-only-insecure-secret-key-change-me"  # noqa: S105


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ChatStoreKind(enum.StrEnum):
    DYNAMODB = "dynamodb"
    MEMORY = "memory"


class Settings(BaseSettings):
    # `CRM_REDIS_URL=` (empty) means unset, as people write it in shells and compose files.
    model_config = SettingsConfigDict(
        env_prefix="CRM_", env_file=".env", extra="ignore", env_parse_none_str=""
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str | None = Field(
        None, description="postgresql+asyncpg://user:pass@host:5432/db; unset = embedded (crm dev)"
    )
    database_pool_size: int = Field(10, ge=1, le=200)
    database_connect_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="Longest wait to open a database connection"
    )
    database_pool_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="Longest wait for a free pooled connection"
    )
    database_statement_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Server-side statement_timeout; the client gives up 1 s after it",
    )
    redis_url: str | None = Field(None, description="redis://host:6379/0; unset = in-process")
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    data_dir: Path = Path(".crm")

    rate_limit_requests: int = Field(600, ge=1)
    rate_limit_window_seconds: int = Field(60, ge=1)
    auth_cache_ttl_seconds: float = Field(5.0, ge=0)
    auth_unknown_key_ttl_seconds: float = Field(
        60.0, ge=0, description="How long an unknown API key is refused without a lookup"
    )
    auth_failure_limit: int = Field(
        30, ge=1, description="Failed authentications per client address per minute"
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest request line + headers; over it: 431, closed"
    )
    import_max_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="Largest CSV file POST /v1/imports accepts"
    )
    idempotency_retention_hours: int = Field(24, ge=1)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins browsers may call from"
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s?#]+(/[^\s?#]*)?$",
        description="The API's base URL as clients reach it (`servers` of /openapi.json); "
        "unset = the origin each request came to",
    )
    firebase_project_id: str | None = Field(
        None, description="Firebase project whose ID tokens sign people in; unset = API keys only"
    )
    firebase_auth_emulator_host: str | None = Field(
        None, description="host:port of a Firebase Auth emulator (tests, local runs)"
    )
    firebase_credentials_file: Path | None = None
    firebase_check_revoked: bool = True
    mailchimp_api_key: SecretStr | None = None
    mailchimp_base_url: str = "https://mandrillapp.com/api/1.0"
    mail_from: str = "no-reply@crm.localhost"
    mail_from_name: str = "CRM"
    invitation_url: str = Field(
        "http://localhost:3000/invitations/accept?token={token}",
        description="The link in invitation emails; `{token}` is replaced by the signed token",
    )
    default_phone_region: str | None = Field(None, min_length=2, max_length=2)
    # Events out (#14): the relay and consumers (`crm worker`), SQS, outbox retention.
    aws_endpoint_url: str | None = Field(
        None, description="AWS API endpoint override (moto, LocalStack); unset = AWS itself"
    )
    aws_region: str = "us-east-1"
    sqs_events_queue: str | None = Field(
        None, description="Events queue name or URL; unset = an in-process queue (crm dev)"
    )
    dynamodb_chats_table: str = Field(
        "crm-chats",
        min_length=3,
        max_length=255,
        description="DynamoDB table of chats and messages (made by `crm aws create-resources`)",
    )
    sqs_max_receives: int = Field(5, ge=1, le=1000, description="Receives before the DLQ")
    sqs_visibility_timeout_seconds: int = Field(30, ge=1, le=43200)
    sqs_wait_seconds: int = Field(20, ge=0, le=20, description="Long-poll wait per receive")
    relay_batch_size: int = Field(100, ge=1, le=1000)
    worker_consumers: int = Field(2, ge=1, le=64, description="Receive loops per process")
    worker_in_process: bool = Field(
        False, description="Run the relay and consumers inside this API process (crm dev)"
    )
    worker_handlers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra handler modules, comma-separated `module:function(registry)`",
    )
    outbox_retention_days: int | None = Field(
        None, ge=1, description="crm outbox purge: published events older go; unset = keep all"
    )
    processed_event_retention_days: int = Field(14, ge=14)
    # WhatsApp channels (#15 item 1): the keys their access tokens are encrypted with.
    channel_token_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Fernet keys (32 bytes, URL-safe base64), comma-separated: the first "
        "encrypts, every one decrypts; unset = one derived from CRM_SECRET_KEY",
    )
    # Conversations (#15): WhatsApp's inbound webhook, its queue, the chat store.
    whatsapp_app_secret: SecretStr | None = Field(
        None,
        description="The Meta app's secret: X-Hub-Signature-256 of POST /v1/webhooks/whatsapp "
        "is checked with it; unset = that route answers 503",
    )
    whatsapp_verify_token: SecretStr | None = Field(
        None, description="The verify token set in Meta's webhook configuration (the handshake)"
    )
    sqs_inbound_queue: str | None = Field(
        None,
        description="Queue of verified inbound WhatsApp notifications (name or URL); unset = "
        "an in-process queue (crm dev)",
    )
    whatsapp_graph_url: str = Field(
        "https://graph.facebook.com",
        pattern=r"^https?://[^/\s?#]+/?$",
        description="The Graph API (replies, inbound media); a local stand-in in tests",
    )
    whatsapp_graph_version: str = Field("v21.0", pattern=r"^v[0-9]{1,3}\.[0-9]{1,3}$")
    whatsapp_timeout_seconds: float = Field(10.0, gt=0, le=60)
    whatsapp_media_max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="Inbound media larger than this is not copied (the message is kept)",
    )
    s3_bucket: str | None = Field(
        None,
        min_length=3,
        max_length=63,
        description="Bucket of files (attachments, chats' media); unset = files on local disk "
        "under CRM_DATA_DIR, linked through the app (crm dev)",
    )
    files_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s?#]+/?$",
        description="Base URL of local file links; unset = CRM_PUBLIC_URL, else "
        "http://127.0.0.1:8000 (crm dev sets it)",
    )
    chat_store: ChatStoreKind | None = Field(
        None,
        description="`dynamodb` or `memory`; unset = DynamoDB when CRM_SQS_EVENTS_QUEUE is set",
    )
    # Outbound webhooks (#14 item 2): /v1/webhook-subscriptions, delivered by the worker.
    webhook_allow_private: bool = Field(
        False,
        description="Deliver to private, loopback and other internal addresses, and accept "
        "http URLs (tests, development); refused in production",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Longest a delivery attempt may take, all included"
    )
    webhook_retry_hours: int = Field(
        72, ge=24, le=24 * 14, description="How long a failing delivery is retried"
    )
    webhook_disable_after_hours: int = Field(
        72, ge=1, le=24 * 14, description="Failing this long since its last success: disabled"
    )
    webhook_concurrency: int = Field(32, ge=1, le=1000, description="POSTs in flight per worker")
    webhook_delivery_retention_days: int = Field(
        30, ge=1, description="crm outbox purge: finished deliveries older than this go"
    )
    # The realtime event stream (#14 item 3): GET /v1/events/stream.
    event_stream_heartbeat_seconds: float = Field(
        15.0, gt=0, le=300, description="A `: ping` comment after this long without a message"
    )
    event_stream_max_per_key: int = Field(
        10, ge=1, le=1000, description="Open streams per API key or person, per API process"
    )
    event_stream_queue_size: int = Field(
        1000, ge=1, le=100_000, description="Unsent events a stream holds before it resets"
    )
    # Push notifications (#14 item 4): Firebase Cloud Messaging, task reminders.
    fcm_enabled: bool = Field(
        False, description="Send push notifications through FCM (CRM_FIREBASE_PROJECT_ID)"
    )
    fcm_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s?#]+/?$",
        description="Base URL of a local FCM stand-in (tests); refused in production",
    )
    reminder_poll_seconds: float = Field(
        10.0, gt=0, le=300, description="How often the worker looks for task reminders due"
    )
    log_level: str = "INFO"
    log_json: bool = False

    @property
    def inbound_queue(self) -> str | None:
        """The queue of inbound WhatsApp notifications: as set, else beside the events queue
        (`<events>-whatsapp`, a standard queue), else none (in process)."""
        if self.sqs_inbound_queue is not None or self.sqs_events_queue is None:
            return self.sqs_inbound_queue
        return self.sqs_events_queue.removesuffix(".fifo") + "-whatsapp"

    @field_validator("invitation_url")
    @classmethod
    def _has_token_placeholder(cls, value: str) -> str:
        if "{token}" not in value:
            raise ValueError("CRM_INVITATION_URL must contain {token}.")
        return value

    @field_validator("worker_handlers", mode="before")
    @classmethod
    def _handler_specs(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            return [spec.strip() for spec in value.split(",") if spec.strip()]
        return value

    @field_validator("channel_token_keys", mode="before")
    @classmethod
    def _fernet_keys(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _fcm_needs_a_project(self) -> Settings:
        if self.fcm_enabled and self.firebase_project_id is None:
            raise ValueError("CRM_FCM_ENABLED needs CRM_FIREBASE_PROJECT_ID (the FCM project).")
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_outside_development(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if self.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
                raise ValueError("CRM_SECRET_KEY must be set to a real secret in production.")
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("CRM_SECRET_KEY must be at least 32 characters.")
            if self.database_url is None:
                raise ValueError("CRM_DATABASE_URL is required in production.")
            if self.mailchimp_api_key is None:
                raise ValueError("CRM_MAILCHIMP_API_KEY is required in production (invitations).")
            if self.firebase_auth_emulator_host is not None:
                raise ValueError("CRM_FIREBASE_AUTH_EMULATOR_HOST accepts unsigned tokens.")
            if self.webhook_allow_private:
                raise ValueError("CRM_WEBHOOK_ALLOW_PRIVATE would let webhooks reach internals.")
            if self.fcm_url is not None:
                raise ValueError("CRM_FCM_URL sends push notifications elsewhere than FCM.")
        return self
