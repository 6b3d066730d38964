"""Rows to domain objects and back: the only place that knows both shapes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from crm.domain.model.company import Company
from crm.domain.model.company_rules import Address, SizeBand
from crm.domain.model.contact import Contact
from crm.domain.model.contact_rules import LifecycleStage
from crm.domain.model.events import DomainEvent
from crm.domain.model.invitation import Invitation
from crm.domain.model.permissions import Role, Scope
from crm.domain.model.workspace import ApiKey, User


class Row(Protocol):
    """What asyncpg records and SQLAlchemy row mappings share."""

    def __getitem__(self, key: str, /) -> Any: ...


CONTACT_COLUMNS = (
    "id, workspace_id, display_name, first_name, last_name, emails, phones, job_title, "
    "company_name, owner_id, tags, lifecycle_stage, custom_fields, created_at, updated_at, "
    "version, external_id"
)
API_KEY_COLUMNS = (
    "id, workspace_id, name, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, "
    "revoked_at, created_by"
)


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
        external_id=row["external_id"],
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
        "external_id": contact.external_id,
    }


def api_key_to_domain(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        created_by=row["created_by"],
    )


def api_key_to_row(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "workspace_id": key.workspace_id,
        "name": key.name,
        "prefix": key.prefix,
        "secret_hash": key.secret_hash,
        "scopes": sorted(key.scopes),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
        "created_by": key.created_by,
    }


def user_to_domain(row: Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        firebase_uid=row["firebase_uid"],
        email_verified=row["email_verified"],
        picture_url=row["picture_url"],
    )


def user_to_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "firebase_uid": user.firebase_uid,
        "email": user.email,
        "email_verified": user.email_verified,
        "display_name": user.display_name,
        "picture_url": user.picture_url,
        "created_at": user.created_at,
    }


def invitation_to_domain(row: Row) -> Invitation:
    fields = {name: row[name] for name in _INVITATION_FIELDS}
    return Invitation(**fields, role=Role(row["role"]))


def invitation_to_row(invitation: Invitation) -> dict[str, Any]:
    fields = {name: getattr(invitation, name) for name in _INVITATION_FIELDS}
    return {**fields, "role": invitation.role.value}


_INVITATION_FIELDS = (
    "id",
    "workspace_id",
    "email",
    "invited_by",
    "nonce_hash",
    "created_at",
    "expires_at",
    "accepted_at",
    "accepted_by",
    "revoked_at",
    "sent_at",
    "send_attempts",
    "last_send_error",
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


COMPANY_FIELDS = (
    "id",
    "workspace_id",
    "name",
    "domain",
    "industry",
    "size_band",
    "country",
    "address",
    "website",
    "owner_id",
    "tags",
    "custom_fields",
    "created_at",
    "updated_at",
    "version",
)


def company_to_domain(row: Row) -> Company:
    address, size_band = row["address"], row["size_band"]
    return Company(
        **{name: row[name] for name in _COMPANY_PLAIN},
        tags=tuple(row["tags"]),
        size_band=None if size_band is None else SizeBand(size_band),
        address=None if address is None else Address(**address),
    )


def company_to_row(company: Company) -> dict[str, Any]:
    address, size_band = company.address, company.size_band
    return {
        **{name: getattr(company, name) for name in _COMPANY_PLAIN},
        "tags": list(company.tags),
        "size_band": None if size_band is None else size_band.value,
        "address": None if address is None else asdict(address),
    }


_COMPANY_PLAIN = tuple(n for n in COMPANY_FIELDS if n not in ("tags", "size_band", "address"))
