"""The SQLAlchemy unit of work: one connection and one transaction, rolled back unless committed."""

from __future__ import annotations

from contextvars import ContextVar
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from crm.adapters.postgres import companies as company_repos
from crm.adapters.postgres import custom_fields as fields_and_tags
from crm.adapters.postgres import deals as deal_repos
from crm.adapters.postgres import people
from crm.adapters.postgres import repositories as repos
from crm.adapters.postgres.attachments import SqlAttachmentRepository
from crm.adapters.postgres.batch import SqlBatchStores
from crm.adapters.postgres.channels import SqlChannelRepository
from crm.adapters.postgres.delivery import SqlOutboxDelivery, SqlProcessedEvents
from crm.adapters.postgres.engine import Turns
from crm.adapters.postgres.errors import (
    aborted,
    database_unavailable,
    is_unavailable,
    unavailable_as_port_error,
)
from crm.adapters.postgres.merges import SqlMergeRepository
from crm.adapters.postgres.notes import SqlNoteRepository
from crm.adapters.postgres.push import (
    SqlDeviceRepository,
    SqlNotificationSettingsRepository,
    SqlReminderRepository,
)
from crm.adapters.postgres.tasks import SqlTaskRepository
from crm.adapters.postgres.webhooks import (
    SqlWebhookDeliveryRepository,
    SqlWebhookSubscriptionRepository,
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

joined_transaction: ContextVar[AsyncConnection | None] = ContextVar(
    "crm_joined_transaction", default=None
)
"""A transaction the current request already holds (an idempotency claim's): units of work
opened inside it become savepoints of it instead of transactions of their own."""


class SqlAlchemyUnitOfWork:
    """`turns` (shared by all units of work on `engine`, sized like its pool) queues the
    transactions first come first served: the pool's own queue lets newcomers overtake
    waiters, which under load shows as a p99 many times the median."""

    def __init__(self, engine: AsyncEngine, turns: Turns | None = None) -> None:
        self._engine = engine
        self._turns = turns

    async def __aenter__(self) -> Self:
        outer = joined_transaction.get()
        self._savepoint: AsyncTransaction | None = None
        if outer is not None:
            self._conn: AsyncConnection = outer
            with unavailable_as_port_error():
                self._savepoint = await outer.begin_nested()
            return self._repositories()
        if self._turns is not None:
            await self._turns.acquire()
        try:
            with unavailable_as_port_error():
                self._conn = await self._engine.connect()
                await self._conn.begin()
        except BaseException:
            self._release_turn()
            raise
        return self._repositories()

    def _repositories(self) -> Self:
        self.workspaces: WorkspaceRepository = people.SqlWorkspaceRepository(self._conn)
        self.users: UserRepository = people.SqlUserRepository(self._conn)
        self.members: MemberRepository = people.SqlMemberRepository(self._conn)
        self.api_keys: ApiKeyRepository = people.SqlApiKeyRepository(self._conn)
        self.invitations: InvitationRepository = people.SqlInvitationRepository(self._conn)
        self.contacts: ContactRepository = repos.SqlContactRepository(self._conn)
        self.outbox: Outbox = repos.SqlOutbox(self._conn)
        self.custom_fields: CustomFieldRepository = fields_and_tags.SqlCustomFieldRepository(
            self._conn
        )
        self.tags: TagRepository = fields_and_tags.SqlTagRepository(self._conn)
        self.companies: CompanyRepository = company_repos.SqlCompanyRepository(self._conn)
        self.company_links: CompanyLinkRepository = company_repos.SqlCompanyLinkRepository(
            self._conn
        )
        self.pipelines: PipelineRepository = deal_repos.SqlPipelineRepository(self._conn)
        self.deals: DealRepository = deal_repos.SqlDealRepository(self._conn)
        self.deal_links: DealLinkRepository = deal_repos.SqlDealLinkRepository(self._conn)
        self.notes: NoteRepository = SqlNoteRepository(self._conn)
        self.tasks: TaskRepository = SqlTaskRepository(self._conn)
        self.batch: BatchStores = SqlBatchStores(self._conn)
        self.merges: MergeRepository = SqlMergeRepository(self._conn)
        self.outbox_delivery: OutboxDelivery = SqlOutboxDelivery(self._conn)
        self.processed_events: ProcessedEvents = SqlProcessedEvents(self._conn)
        self.webhook_subscriptions: WebhookSubscriptionRepository = (
            SqlWebhookSubscriptionRepository(self._conn)
        )
        self.webhook_deliveries: WebhookDeliveryRepository = SqlWebhookDeliveryRepository(
            self._conn
        )
        self.devices: DeviceRepository = SqlDeviceRepository(self._conn)
        self.channels: ChannelRepository = SqlChannelRepository(self._conn)
        self.notification_settings: NotificationSettingsRepository = (
            SqlNotificationSettingsRepository(self._conn)
        )
        self.reminders: ReminderRepository = SqlReminderRepository(self._conn)
        self.attachments: AttachmentRepository = SqlAttachmentRepository(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._end()
        except Exception as ending:
            # Rolling back on a connection that just died fails too; the first error says why.
            if not is_unavailable(ending):
                raise
            if exc is None:
                raise database_unavailable(ending) from ending
        lost = aborted(exc)
        if lost is not None:
            raise lost from exc
        if exc is not None and is_unavailable(exc):
            raise database_unavailable(exc) from exc

    async def _end(self) -> None:
        if self._savepoint is not None:
            if self._savepoint.is_active and not self._conn.invalidated:
                await self._savepoint.rollback()
            return
        try:
            if self._conn.in_transaction() and not self._conn.invalidated:
                await self._conn.rollback()
        finally:
            try:
                await self._conn.close()
            finally:
                self._release_turn()

    def _release_turn(self) -> None:
        if self._turns is not None:
            self._turns.release()

    async def commit(self) -> None:
        """Commit; inside a joined transaction, release the savepoint (the owner commits)."""
        with unavailable_as_port_error():
            if self._savepoint is not None:
                await self._savepoint.commit()
            else:
                await self._conn.commit()
