"""Repositories: the aggregates as the core sees them, whatever stores them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import CustomField, FieldSchema, ObjectType
from crm.domain.model.events import DomainEvent
from crm.domain.model.invitation import Invitation
from crm.domain.model.tags import Tag
from crm.domain.model.workspace import ApiKey, Member, Membership, MemberView, User, Workspace
from crm.domain.pagination import Page, PageRequest


class WorkspaceRepository(Protocol):
    async def add(self, workspace: Workspace) -> None: ...

    async def get(self, workspace_id: UUID) -> Workspace | None: ...

    async def lock(self, workspace_id: UUID) -> Workspace | None:
        """Load and lock the workspace row: membership changes take turns behind it."""


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Insert; raises AlreadyExists when the identity provider's uid is already known."""

    async def get(self, user_id: UUID) -> User | None: ...

    async def get_by_uid(self, firebase_uid: str) -> User | None: ...

    async def save(self, user: User) -> None: ...


class MemberRepository(Protocol):
    async def add(self, member: Member) -> None: ...

    async def get(self, workspace_id: UUID, user_id: UUID) -> Member | None: ...

    async def save(self, member: Member) -> None: ...

    async def remove(self, member: Member) -> None: ...

    async def count_owners(self, workspace_id: UUID) -> int: ...

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[MemberView]:
        """Members with their profiles, oldest membership first."""

    async def list_for_user(self, user_id: UUID, page: PageRequest) -> Page[Membership]:
        """The workspaces a person belongs to, with their role, oldest first."""


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, workspace_id: UUID, key_id: UUID) -> ApiKey | None: ...

    async def save(self, key: ApiKey) -> None: ...

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[ApiKey]: ...


class InvitationRepository(Protocol):
    async def add(self, invitation: Invitation) -> None: ...

    async def get(self, workspace_id: UUID, invitation_id: UUID) -> Invitation | None: ...

    async def find(self, invitation_id: UUID) -> Invitation | None:
        """By id alone: accepting comes from someone who is not yet in the workspace."""

    async def save(self, invitation: Invitation) -> None: ...

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Invitation]: ...


class ContactRepository(Protocol):
    async def add(self, contact: Contact) -> None:
        """Insert; raises EmailAlreadyInUse when an email belongs to another contact."""

    async def get_for_update(self, workspace_id: UUID, contact_id: UUID) -> Contact | None:
        """Load and lock the contact until the unit of work ends."""

    async def save(self, contact: Contact, expected_version: int) -> None:
        """Write changes; raises VersionConflict if the stored version moved on."""

    async def remove(self, contact: Contact) -> None: ...


class Outbox(Protocol):
    async def add(self, events: Iterable[DomainEvent]) -> None:
        """Record events in the current transaction, to be published after commit."""


class ContactReader(Protocol):
    """Reads outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, contact_id: UUID) -> Contact | None: ...

    async def list(
        self, workspace_id: UUID, page: PageRequest, tags: Sequence[str] = ()
    ) -> Page[Contact]:
        """With `tags`, only contacts carrying every one of them (names already normalized)."""


class CustomFieldReader(Protocol):
    """Reads of the definitions outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, field_id: UUID) -> CustomField | None: ...

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]:
        """Archived definitions included; with `object_type`, only that object's."""


class TagReader(Protocol):
    """Reads of the tag catalogue outside a unit of work: one round trip each, never locking."""

    async def get(self, workspace_id: UUID, tag_id: UUID) -> Tag | None: ...

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Tag]: ...


class ApiKeyReader(Protocol):
    async def find_by_hash(self, secret_hash: str) -> ApiKey | None: ...

    async def touch(self, key_id: UUID, at: datetime) -> None:
        """Record use; callers do it at most once a minute per key, never per request."""


class CustomFieldRepository(Protocol):
    """Custom field definitions (archived ones included) of one workspace."""

    async def add(self, field: CustomField) -> None:
        """Insert; raises CustomFieldKeyTaken when the object type already has the key."""

    async def get(self, workspace_id: UUID, field_id: UUID) -> CustomField | None: ...

    async def get_for_update(self, workspace_id: UUID, field_id: UUID) -> CustomField | None:
        """Load and lock the definition until the unit of work ends."""

    async def save(self, field: CustomField, expected_version: int) -> None:
        """Write changes; raises VersionConflict if the stored version moved on."""

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]: ...

    async def schema(self, workspace_id: UUID, object_type: ObjectType) -> FieldSchema:
        """Every definition of the object type (archived too): validates writes, hides reads."""


class TagRepository(Protocol):
    """The tag catalogue; renames and deletes reach every contact, company and deal."""

    async def add(self, tag: Tag) -> None:
        """Insert; raises TagNameTaken when the name is already in the catalogue."""

    async def get(self, workspace_id: UUID, tag_id: UUID) -> Tag | None: ...

    async def get_for_update(self, workspace_id: UUID, tag_id: UUID) -> Tag | None: ...

    async def save(self, tag: Tag, expected_version: int, previous_name: str | None = None) -> None:
        """Write changes; with `previous_name` (a rename) every record carrying it gets the new
        name. Raises TagNameTaken (name in use) or VersionConflict."""

    async def remove(self, tag: Tag) -> None:
        """Delete from the catalogue and from every contact, company and deal carrying it."""

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Tag]: ...

    async def ensure(self, workspace_id: UUID, names: Iterable[str], now: datetime) -> None:
        """Add the (already normalized) names missing from the catalogue."""
