"""Repositories: the aggregates as the core sees them, whatever stores them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from uuid import UUID

from crm.domain.model.contact import Contact
from crm.domain.model.events import DomainEvent
from crm.domain.model.workspace import ApiKey, Member, User, Workspace
from crm.domain.pagination import Page, PageRequest


class WorkspaceRepository(Protocol):
    async def add(self, workspace: Workspace) -> None: ...

    async def get(self, workspace_id: UUID) -> Workspace | None: ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...

    async def get_by_email(self, email: str) -> User | None: ...


class MemberRepository(Protocol):
    async def add(self, member: Member) -> None: ...

    async def get(self, workspace_id: UUID, user_id: UUID) -> Member | None: ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, workspace_id: UUID, key_id: UUID) -> ApiKey | None: ...

    async def save(self, key: ApiKey) -> None: ...


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

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Contact]: ...


class ApiKeyReader(Protocol):
    async def find_by_hash(self, secret_hash: str) -> ApiKey | None: ...
