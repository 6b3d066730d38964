"""Workspaces (tenants), the people in them, and the API keys that act for them."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.text import has_control_characters

API_KEY_PREFIX = "crm_sk_"
WORKSPACE_NAME_MAX = 120


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class ActorKind(enum.StrEnum):
    USER = "user"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the workspace every query is scoped to, the actor and its role."""

    workspace_id: UUID
    actor_id: UUID
    actor_kind: ActorKind
    role: Role


@dataclass(slots=True)
class Workspace:
    id: UUID
    name: str
    created_at: datetime

    @staticmethod
    def validate_name(raw: str) -> str:
        name = " ".join(raw.split())
        if not name or len(name) > WORKSPACE_NAME_MAX or has_control_characters(name):
            raise InvalidInput(
                "A workspace name is 1 to 120 printable characters.",
                errors=(FieldError("/name", "invalid_length", "1 to 120 characters"),),
            )
        return name


@dataclass(slots=True)
class User:
    id: UUID
    email: str
    display_name: str | None
    created_at: datetime


@dataclass(slots=True)
class Member:
    workspace_id: UUID
    user_id: UUID
    role: Role
    created_at: datetime


@dataclass(slots=True)
class ApiKey:
    """A workspace credential. Only a keyed hash of the secret is ever stored."""

    id: UUID
    workspace_id: UUID
    name: str
    prefix: str
    secret_hash: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, at: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = at

    def principal(self) -> Principal:
        return Principal(self.workspace_id, self.id, ActorKind.API_KEY, self.role)


class ApiKeySecrets:
    """Mints API-key secrets and hashes them with the service's secret key (HMAC-SHA256)."""

    def __init__(self, hashing_key: bytes) -> None:
        self._key = hashing_key

    def mint(self) -> str:
        return API_KEY_PREFIX + secrets.token_urlsafe(32)

    def hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def looks_like_key(token: str) -> bool:
        return token.startswith(API_KEY_PREFIX) and 20 <= len(token) <= 128

    @staticmethod
    def display_prefix(secret: str) -> str:
        return secret[: len(API_KEY_PREFIX) + 6]
