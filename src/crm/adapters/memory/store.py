"""The unit of work over the in-memory state (`MemoryStore`, in `state`), like a transaction."""

from __future__ import annotations

import copy
from types import TracebackType
from typing import Self

from crm.adapters.memory import companies as company_repos
from crm.adapters.memory import custom_fields as fields_and_tags
from crm.adapters.memory import deals as deal_repos
from crm.adapters.memory import people
from crm.adapters.memory import repositories as repos
from crm.adapters.memory.attachments import InMemoryAttachmentRepository
from crm.adapters.memory.batch import InMemoryBatchStores
from crm.adapters.memory.channels import InMemoryChannelRepository
from crm.adapters.memory.delivery import InMemoryOutboxDelivery, InMemoryProcessedEvents
from crm.adapters.memory.merges import InMemoryMergeRepository
from crm.adapters.memory.notes import InMemoryNoteRepository
from crm.adapters.memory.push import (
    InMemoryDeviceRepository,
    InMemoryNotificationSettingsRepository,
    InMemoryReminderRepository,
)
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.tasks import InMemoryTaskRepository
from crm.adapters.memory.webhooks import (
    InMemoryWebhookDeliveryRepository,
    InMemoryWebhookSubscriptionRepository,
)
from crm.ports.attachments import AttachmentRepository
from crm.ports.batch import BatchStores
from crm.ports.channels import ChannelRepository
from crm.ports.companies import CompanyLinkRepository, CompanyRepository
from crm.ports.deals import DealLinkRepository, DealRepository, PipelineRepository
from crm.ports.delivery import OutboxDelivery, ProcessedEvents
from crm.ports.merges import MergeRepository
from crm.ports.notes import NoteRepository
from crm.ports.push import (
    DeviceRepository,
    NotificationSettingsRepository,
    ReminderRepository,
)
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
from crm.ports.webhooks import WebhookDeliveryRepository, WebhookSubscriptionRepository


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
        self.outbox_delivery: OutboxDelivery = InMemoryOutboxDelivery(self._state)
        self.processed_events: ProcessedEvents = InMemoryProcessedEvents(self._state)
        self.webhook_subscriptions: WebhookSubscriptionRepository = (
            InMemoryWebhookSubscriptionRepository(self._state)
        )
        self.webhook_deliveries: WebhookDeliveryRepository = InMemoryWebhookDeliveryRepository(
            self._state
        )
        self.devices: DeviceRepository = InMemoryDeviceRepository(self._state)
        self.channels: ChannelRepository = InMemoryChannelRepository(self._state)
        self.notification_settings: NotificationSettingsRepository = (
            InMemoryNotificationSettingsRepository(self._state)
        )
        self.reminders: ReminderRepository = InMemoryReminderRepository(self._state)
        self.attachments: AttachmentRepository = InMemoryAttachmentRepository(self._state)
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
