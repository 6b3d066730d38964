"""In-process storage for the memory adapters: committed state plus a unit of work over it."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from crm.adapters.memory import companies as company_repos
from crm.adapters.memory import custom_fields as fields_and_tags
from crm.adapters.memory import deals as deal_repos
from crm.adapters.memory import people
from crm.adapters.memory import repositories as repos
from crm.adapters.memory.batch import InMemoryBatchStores
from crm.adapters.memory.merges import InMemoryMergeRepository
from crm.adapters.memory.notes import InMemoryNoteRepository
from crm.adapters.memory.tasks import InMemoryTaskRepository
from crm.domain.model.company import Company, CompanyLink
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import CustomField
from crm.domain.model.deal import Deal, StageChange
from crm.domain.model.events import DomainEvent
from crm.domain.model.invitation import Invitation
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import Note
from crm.domain.model.pipeline import Pipeline
from crm.domain.model.tags import Tag
from crm.domain.model.task import Task
from crm.domain.model.workspace import ApiKey, Member, User, Workspace
from crm.ports.batch import BatchStores
from crm.ports.companies import CompanyLinkRepository, CompanyRepository
from crm.ports.deals import DealLinkRepository, DealRepository, PipelineRepository
from crm.ports.merges import MergeRepository
from crm.ports.notes import NoteRepository
from crm.ports.repositories import (
    ApiKeyRepository,
    ContactRepository,
    CustomFieldRepository,
    InvitationRepository,
    MemberRepository,
    Outbox,
    TagRepository,
    UserRepository,
    WorkspaceRepository,
)
from crm.ports.tasks import TaskRepository


@dataclass
class MemoryState:
    workspaces: dict[UUID, Workspace] = field(default_factory=dict)
    users: dict[UUID, User] = field(default_factory=dict)
    members: dict[tuple[UUID, UUID], Member] = field(default_factory=dict)
    api_keys: dict[UUID, ApiKey] = field(default_factory=dict)
    invitations: dict[UUID, Invitation] = field(default_factory=dict)
    contacts: dict[UUID, Contact] = field(default_factory=dict)
    contact_emails: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)
    custom_fields: dict[UUID, CustomField] = field(default_factory=dict)
    tags: dict[UUID, Tag] = field(default_factory=dict)
    companies: dict[UUID, Company] = field(default_factory=dict)
    company_domains: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    # (workspace_id, contact_id, company_id) -> link
    company_links: dict[tuple[UUID, UUID, UUID], CompanyLink] = field(default_factory=dict)
    pipelines: dict[UUID, Pipeline] = field(default_factory=dict)
    deals: dict[UUID, Deal] = field(default_factory=dict)
    deal_history: list[StageChange] = field(default_factory=list)
    # (kind, workspace_id, deal_id, contact or company id) -> linked at
    deal_links: dict[tuple[str, UUID, UUID, UUID], datetime] = field(default_factory=dict)
    notes: dict[UUID, Note] = field(default_factory=dict)
    tasks: dict[UUID, Task] = field(default_factory=dict)
    # (workspace_id, record type, merged id) -> tombstone
    tombstones: dict[tuple[UUID, str, UUID], Tombstone] = field(default_factory=dict)


class MemoryStore:
    """Committed state; one unit of work at a time holds the lock, like a serializable DB."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()


class InMemoryUnitOfWork:
    """Works on a deep copy of the state and swaps it in on commit; anything else rolls back."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._state = copy.deepcopy(self._store.state)
        self.workspaces: WorkspaceRepository = people.InMemoryWorkspaceRepository(self._state)
        self.users: UserRepository = people.InMemoryUserRepository(self._state)
        self.members: MemberRepository = people.InMemoryMemberRepository(self._state)
        self.api_keys: ApiKeyRepository = people.InMemoryApiKeyRepository(self._state)
        self.invitations: InvitationRepository = people.InMemoryInvitationRepository(self._state)
        self.contacts: ContactRepository = repos.InMemoryContactRepository(self._state)
        self.outbox: Outbox = repos.InMemoryOutbox(self._state)
        self.custom_fields: CustomFieldRepository = fields_and_tags.InMemoryCustomFieldRepository(
            self._state
        )
        self.tags: TagRepository = fields_and_tags.InMemoryTagRepository(self._state)
        self.companies: CompanyRepository = company_repos.InMemoryCompanyRepository(self._state)
        self.company_links: CompanyLinkRepository = company_repos.InMemoryCompanyLinkRepository(
            self._state
        )
        self.pipelines: PipelineRepository = deal_repos.InMemoryPipelineRepository(self._state)
        self.deals: DealRepository = deal_repos.InMemoryDealRepository(self._state)
        self.deal_links: DealLinkRepository = deal_repos.InMemoryDealLinkRepository(self._state)
        self.notes: NoteRepository = InMemoryNoteRepository(self._state)
        self.tasks: TaskRepository = InMemoryTaskRepository(self._state)
        self.batch: BatchStores = InMemoryBatchStores(self._state)
        self.merges: MergeRepository = InMemoryMergeRepository(self._state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.lock.release()

    async def commit(self) -> None:
        # `last_used_at` is written only by `ApiKeyReader.touch`, outside any unit of work (in
        # Postgres its own statement, and `save` never writes the column): keep the touches
        # made while this unit of work was open instead of its stale copies.
        for key_id, key in self._state.api_keys.items():
            committed = self._store.state.api_keys.get(key_id)
            if committed is not None:
                key.last_used_at = committed.last_used_at
        self._store.state = self._state
        self._state = copy.deepcopy(self._state)
