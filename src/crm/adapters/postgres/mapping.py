"""Rows to domain objects and back: the only place that knows both shapes."""

from __future__ import annotations

from typing import Any, Protocol

from crm.domain.model.contact import Contact
from crm.domain.model.contact_rules import LifecycleStage
from crm.domain.model.events import DomainEvent
from crm.domain.model.workspace import ApiKey, Role


class Row(Protocol):
    """What asyncpg records and SQLAlchemy row mappings share."""

    def __getitem__(self, key: str, /) -> Any: ...


CONTACT_COLUMNS = (
    "id, workspace_id, display_name, first_name, last_name, emails, phones, job_title, "
    "company_name, owner_id, tags, lifecycle_stage, custom_fields, created_at, updated_at, version"
)
API_KEY_COLUMNS = "id, workspace_id, name, prefix, secret_hash, role, created_at, revoked_at"


def contact_to_domain(row: Row) -> Contact:
    return Contact(
        id=row["id"],
        workspace_id=row["workspace_id"],
        display_name=row["display_name"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        emails=tuple(row["emails"]),
        phones=tuple(row["phones"]),
        job_title=row["job_title"],
        company_name=row["company_name"],
        owner_id=row["owner_id"],
        tags=tuple(row["tags"]),
        lifecycle_stage=LifecycleStage(row["lifecycle_stage"]),
        custom_fields=row["custom_fields"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def contact_to_row(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "workspace_id": contact.workspace_id,
        "display_name": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "emails": list(contact.emails),
        "phones": list(contact.phones),
        "job_title": contact.job_title,
        "company_name": contact.company_name,
        "owner_id": contact.owner_id,
        "tags": list(contact.tags),
        "lifecycle_stage": contact.lifecycle_stage.value,
        "custom_fields": contact.custom_fields,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "version": contact.version,
    }


def api_key_to_domain(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def event_to_row(event: DomainEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "workspace_id": event.workspace_id,
        "topic": event.topic,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "actor_id": event.actor_id,
        "payload": event.payload,
        "occurred_at": event.occurred_at,
    }
