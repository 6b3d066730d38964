"""The unit of work: one transaction, its repositories, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

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


class UnitOfWork(Protocol):
    workspaces: WorkspaceRepository
    users: UserRepository
    members: MemberRepository
    api_keys: ApiKeyRepository
    invitations: InvitationRepository
    contacts: ContactRepository
    outbox: Outbox
    custom_fields: CustomFieldRepository
    tags: TagRepository
    companies: CompanyRepository
    company_links: CompanyLinkRepository
    pipelines: PipelineRepository
    deals: DealRepository
    deal_links: DealLinkRepository
    notes: NoteRepository
    tasks: TaskRepository
    batch: BatchStores
    merges: MergeRepository
    outbox_delivery: OutboxDelivery
    processed_events: ProcessedEvents
    webhook_subscriptions: WebhookSubscriptionRepository
    webhook_deliveries: WebhookDeliveryRepository
    devices: DeviceRepository
    channels: ChannelRepository
    notification_settings: NotificationSettingsRepository
    reminders: ReminderRepository
    attachments: AttachmentRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
