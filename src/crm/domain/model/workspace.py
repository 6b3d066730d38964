"""Workspaces (tenants), the people in them, and the API keys that act for them."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.identity import VerifiedIdentity
from crm.domain.model.permissions import ActorKind, Principal, Role, Scope
from crm.domain.model.text import has_control_characters

API_KEY_PREFIX = "crm_sk_"
_SECRET_BYTES = 32
# The prefix, then `secrets.token_urlsafe(32)`: 43 base64url characters.
_API_KEY = re.compile(rf"{API_KEY_PREFIX}[A-Za-z0-9_-]{{43}}")
API_KEY_FORMAT = f"`{API_KEY_PREFIX}` followed by 43 letters, digits, `-` or `_`"
WORKSPACE_NAME_MAX = 120
KEY_NAME_MAX = 100


def _name(raw: str, what: str, longest: int) -> str:
    """Whitespace collapsed; 1 to `longest` printable characters."""
    name = " ".join(raw.split())
    if not name or len(name) > longest or has_control_characters(name):
        raise InvalidInput(
            f"{what} name is 1 to {longest} printable characters.",
            errors=(FieldError("/name", "invalid_length", f"1 to {longest} characters"),),
        )
    return name


@dataclass(slots=True)
class Workspace:
    id: UUID
    name: str
    created_at: datetime

    @staticmethod
    def validate_name(raw: str) -> str:
        return _name(raw, "A workspace", WORKSPACE_NAME_MAX)


@dataclass(slots=True)
class User:
    """A person, known by the identity provider's uid; created at first sign-in."""

    id: UUID
    email: str | None
    display_name: str | None
    created_at: datetime
    firebase_uid: str | None = None
    email_verified: bool = False
    picture_url: str | None = None

    def refresh(self, identity: VerifiedIdentity) -> bool:
        """Take the provider's current profile; True when something changed."""
        fresh = (identity.email, identity.email_verified, identity.name, identity.picture)
        if fresh == (self.email, self.email_verified, self.display_name, self.picture_url):
            return False
        self.email, self.email_verified, self.display_name, self.picture_url = fresh
        return True


@dataclass(slots=True)
class Member:
    workspace_id: UUID
    user_id: UUID
    role: Role
    created_at: datetime

    def principal(self) -> Principal:
        return Principal(self.workspace_id, self.user_id, ActorKind.USER, role=self.role)


@dataclass(frozen=True, slots=True)
class MemberView:
    """A member as listed: the membership and the person's profile."""

    member: Member
    email: str | None
    display_name: str | None
    picture_url: str | None


@dataclass(frozen=True, slots=True)
class Membership:
    """One of a person's workspaces, with the role they hold in it."""

    workspace: Workspace
    role: Role | None
    """None when an API key (which has scopes, not a role) reads its own workspace."""
    joined_at: datetime


@dataclass(slots=True)
class ApiKey:
    """A workspace credential with scopes. Only a keyed hash of the secret is ever stored."""

    id: UUID
    workspace_id: UUID
    name: str
    prefix: str
    secret_hash: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: UUID | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def revoke(self, at: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = at

    def principal(self) -> Principal:
        return Principal(self.workspace_id, self.id, ActorKind.API_KEY, scopes=self.scopes)

    @staticmethod
    def validate_name(raw: str) -> str:
        return _name(raw, "An API key", KEY_NAME_MAX)


class ApiKeySecrets:
    """Mints API-key secrets and hashes them with the service's secret key (HMAC-SHA256)."""

    def __init__(self, hashing_key: bytes) -> None:
        self._key = hashing_key

    def mint(self) -> str:
        return API_KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)

    def hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def looks_like_key(token: str) -> bool:
        """Shaped as `mint` makes them (only such a token is worth looking up)."""
        return _API_KEY.fullmatch(token) is not None

    @staticmethod
    def display_prefix(secret: str) -> str:
        return secret[: len(API_KEY_PREFIX) + 6]
