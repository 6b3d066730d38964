"""The composition root: settings in, adapters built and wired into the use cases."""

from __future__ import annotations

import hashlib
import hmac
import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from crm.adapters.firebase.identity import FirebaseIdentityVerifier
from crm.adapters.http.webhook_sender import AiohttpWebhookSender
from crm.adapters.localfs.csv_files import TempCsvFiles
from crm.adapters.mailchimp.mailer import MailchimpTransactionalMailer
from crm.adapters.memory.chats import InMemoryChatStore
from crm.adapters.memory.committed import ReportingInMemoryUnitOfWork
from crm.adapters.memory.companies import InMemoryCompanyReader
from crm.adapters.memory.credentials import InMemoryCredentialInvalidation
from crm.adapters.memory.custom_fields import InMemoryCustomFieldReader, InMemoryTagReader
from crm.adapters.memory.deals import InMemoryDealReader, InMemoryPipelineReader
from crm.adapters.memory.event_stream import InMemoryEventBroadcaster, InMemoryEventReplay
from crm.adapters.memory.idempotency import InMemoryIdempotencyStore
from crm.adapters.memory.identity import NoSignIn
from crm.adapters.memory.imports import InMemoryImportJobs
from crm.adapters.memory.mailer import InMemoryMailer
from crm.adapters.memory.merges import InMemoryTombstoneReader
from crm.adapters.memory.notes import InMemoryNoteReader
from crm.adapters.memory.push import InMemoryPushSender
from crm.adapters.memory.queue import InMemoryMessageQueue
from crm.adapters.memory.rate_limiter import InMemoryRateLimiter
from crm.adapters.memory.readers import InMemoryApiKeyReader, InMemoryContactReader
from crm.adapters.memory.search import InMemoryRecordSearch
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.tasks import InMemoryTaskReader
from crm.adapters.memory.timeline import InMemoryEventReader
from crm.adapters.memory.workspace_directory import InMemoryWorkspaceDirectory
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.postgres.committed import ReportingIdempotencyStore, ReportingUnitOfWork
from crm.adapters.postgres.company_readers import AsyncpgCompanyReader
from crm.adapters.postgres.deal_readers import AsyncpgDealReader, AsyncpgPipelineReader
from crm.adapters.postgres.engine import DatabaseTimeouts, Turns, asyncpg_dsn, create_engine
from crm.adapters.postgres.event_readers import AsyncpgEventReader
from crm.adapters.postgres.event_stream import AsyncpgEventReplay
from crm.adapters.postgres.health import PostgresHealthCheck
from crm.adapters.postgres.merges import AsyncpgTombstoneReader
from crm.adapters.postgres.notes import AsyncpgNoteReader
from crm.adapters.postgres.readers import AsyncpgApiKeyReader, AsyncpgContactReader, ReadPool
from crm.adapters.postgres.schema_readers import AsyncpgCustomFieldReader, AsyncpgTagReader
from crm.adapters.postgres.search import AsyncpgRecordSearch
from crm.adapters.postgres.tasks import AsyncpgTaskReader
from crm.adapters.postgres.workspace_directory import AsyncpgWorkspaceDirectory
from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.credentials import RedisCredentialInvalidation
from crm.adapters.redis.event_stream import RedisEventBroadcaster
from crm.adapters.redis.health import RedisHealthCheck
from crm.adapters.redis.imports import RedisImportJobs
from crm.adapters.redis.rate_limiter import RedisRateLimiter
from crm.adapters.sqs.client import SqsEndpoint
from crm.adapters.system.clock import SystemClock
from crm.adapters.system.ids import Uuid7Generator
from crm.adapters.system.resolver import SystemResolver
from crm.adapters.system.token_cipher import FernetTokenCipher
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.imports import ImportObject
from crm.domain.model.invitation import InvitationTokens
from crm.domain.model.webhook_deliveries import RetryPolicy
from crm.domain.model.webhook_targets import TargetPolicy
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.use_cases import batch, notes
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import company_links as links
from crm.domain.use_cases import custom_fields as cf
from crm.domain.use_cases import invitations as inv
from crm.domain.use_cases import manage_api_keys as keys
from crm.domain.use_cases import members as mem
from crm.domain.use_cases import merge_records as merging
from crm.domain.use_cases import tasks as tk
from crm.domain.use_cases import timeline as tl
from crm.domain.use_cases import webhook_deliveries as whd
from crm.domain.use_cases import webhook_subscriptions as whs
from crm.domain.use_cases.attachment_access import RecordReaders
from crm.domain.use_cases.attachments import AttachmentsFollowTheirRecord, AttachmentUseCases
from crm.domain.use_cases.authenticate import Authenticate
from crm.domain.use_cases.channels import ChannelUseCases
from crm.domain.use_cases.chats import ChatUseCases, MoveChatsOfMergedContact
from crm.domain.use_cases.consume_events import ConsumeEvents, ConsumerOptions
from crm.domain.use_cases.consume_queue import ConsumeQueue
from crm.domain.use_cases.create_contact import CreateContact
from crm.domain.use_cases.create_workspace import CreateWorkspace
from crm.domain.use_cases.dead_letters import DeadLetters
from crm.domain.use_cases.delete_contact import DeleteContact
from crm.domain.use_cases.deliver_events import EventDelivery, Loop
from crm.domain.use_cases.deliver_webhooks import DeliverWebhooks, DeliveryOptions
from crm.domain.use_cases.devices import DeviceUseCases
from crm.domain.use_cases.event_handlers import HandlerRegistry
from crm.domain.use_cases.get_contact import GetContact
from crm.domain.use_cases.import_runner import Batch
from crm.domain.use_cases.imports import ImportUseCases
from crm.domain.use_cases.list_contacts import ListContacts
from crm.domain.use_cases.notify import Notifier, push_handlers
from crm.domain.use_cases.purge_outbox import PurgeOutbox
from crm.domain.use_cases.relay_outbox import RelayOutbox
from crm.domain.use_cases.sales import SalesUseCases
from crm.domain.use_cases.search import SearchUseCases
from crm.domain.use_cases.stream_events import StreamEvents, StreamOptions
from crm.domain.use_cases.task_reminders import SendTaskReminders
from crm.domain.use_cases.update_contact import UpdateContact
from crm.domain.use_cases.webhook_fanout import EmailWebhookDisabled, StoredRecords, WebhookFanOut
from crm.domain.use_cases.whatsapp_inbound import (
    ApplyWhatsApp,
    CopyInboundMedia,
    ReceiveWhatsApp,
)
from crm.domain.use_cases.workspace_directory import ListAllWorkspaces
from crm.domain.use_cases.workspaces import GetWorkspace, ListMyWorkspaces
from crm.ports.blobs import BlobStore, SignedFiles
from crm.ports.chats import ChatStore
from crm.ports.companies import CompanyReader
from crm.ports.credentials import CredentialInvalidation
from crm.ports.deals import DealReader, PipelineReader
from crm.ports.delivery import Handler
from crm.ports.event_stream import CommittedEvents, EventBroadcaster, EventReplay
from crm.ports.health import HealthCheck
from crm.ports.idempotency import IdempotencyStore
from crm.ports.identity import IdentityVerifier
from crm.ports.imports import ImportJobs
from crm.ports.mailer import Mailer
from crm.ports.merges import TombstoneReader
from crm.ports.message_queue import MessageQueue
from crm.ports.messaging import MessagingProvider
from crm.ports.notes import NoteReader
from crm.ports.push import PushSender
from crm.ports.rate_limiter import RateLimiter
from crm.ports.repositories import ApiKeyReader, ContactReader, CustomFieldReader, TagReader
from crm.ports.search import RecordSearch
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.tasks import TaskReader
from crm.ports.timeline import EventReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from crm.ports.webhooks import HostResolver
from crm.ports.workspace_directory import WorkspaceDirectory
from crm.settings import ChatStoreKind, Environment, Settings

Hook = Callable[[], Awaitable[None]]
IdempotencyFactory = Callable[[Clock, timedelta], IdempotencyStore]


@dataclass
class Container:
    """Every use case the entrypoints may call, plus the lifecycle of the resources behind them."""

    settings: Settings
    clock: Clock
    identity: IdentityVerifier
    mailer: Mailer
    create_workspace: CreateWorkspace
    list_workspaces: ListMyWorkspaces
    list_all_workspaces: ListAllWorkspaces
    get_workspace: GetWorkspace
    list_members: mem.ListMembers
    get_member: mem.GetMember
    change_member_role: mem.ChangeMemberRole
    remove_member: mem.RemoveMember
    invite_member: inv.InviteMember
    list_invitations: inv.ListInvitations
    get_invitation: inv.GetInvitation
    resend_invitation: inv.ResendInvitation
    revoke_invitation: inv.RevokeInvitation
    accept_invitation: inv.AcceptInvitation
    create_api_key: keys.CreateApiKey
    list_api_keys: keys.ListApiKeys
    get_api_key: keys.GetApiKey
    revoke_api_key: keys.RevokeApiKey
    authenticate: Authenticate
    create_contact: CreateContact
    get_contact: GetContact
    list_contacts: ListContacts
    update_contact: UpdateContact
    delete_contact: DeleteContact
    merge_contacts: merging.MergeContacts
    batch_contacts: batch.BatchContacts
    batch_companies: batch.BatchCompanies
    batch_deals: batch.BatchDeals
    merge_companies: merging.MergeCompanies
    sales: SalesUseCases
    search: SearchUseCases
    """Search and export of contacts, companies and deals."""
    """Pipelines, stages, deals and their links."""
    create_company: co.CreateCompany
    get_company: co.GetCompany
    list_companies: co.ListCompanies
    update_company: co.UpdateCompany
    delete_company: co.DeleteCompany
    link_company: links.LinkContactToCompany
    unlink_company: links.UnlinkContactFromCompany
    list_contact_companies: links.ListContactCompanies
    list_company_contacts: links.ListCompanyContacts
    create_custom_field: cf.CreateCustomField
    list_custom_fields: cf.ListCustomFields
    get_custom_field: cf.GetCustomField
    update_custom_field: cf.UpdateCustomField
    create_tag: cf.CreateTag
    list_tags: cf.ListTags
    get_tag: cf.GetTag
    update_tag: cf.UpdateTag
    delete_tag: cf.DeleteTag
    add_note: notes.AddNote
    list_notes: notes.ListNotes
    get_note: notes.GetNote
    update_note: notes.UpdateNote
    delete_note: notes.DeleteNote
    create_task: tk.CreateTask
    list_tasks: tk.ListTasks
    list_my_tasks: tk.ListMyTasks
    get_task: tk.GetTask
    update_task: tk.UpdateTask
    complete_task: tk.CompleteTask
    reopen_task: tk.ReopenTask
    delete_task: tk.DeleteTask
    get_record_timeline: tl.GetRecordTimeline
    list_audit_events: tl.ListAuditEvents
    imports: ImportUseCases
    """CSV imports: start, progress, failed rows; the runner of their background tasks."""
    rate_limiter: RateLimiter
    auth_failures: RateLimiter
    """Failed authentications per client address (its own namespace and limit)."""
    credentials: CredentialInvalidation
    """Where revocations, removals and role changes are announced to every API process."""
    idempotency: IdempotencyStore
    health_checks: list[HealthCheck]
    events: EventsOut
    """Delivery of committed events: relay, consumers and handlers, dead letters, purge."""
    webhooks: Webhooks
    """Webhook subscriptions, their deliveries and the worker's delivery loop."""
    devices: DeviceUseCases
    """A person's devices and notification settings."""
    channels: ChannelUseCases
    """Connected WhatsApp numbers (their access tokens encrypted)."""
    conversations: Conversations
    """WhatsApp's webhook, the worker applying it, and the chats."""
    chats: ChatUseCases
    """/v1/chats: conversations, messages, replies."""
    blobs: BlobStore
    """Files: attachments and chats' media (S3, or local disk)."""
    signed_files: SignedFiles | None
    """The local store's links, which the app serves (None with S3)."""
    attachments: AttachmentUseCases
    """Files on contacts, companies, deals and notes: presigned upload forms, download links."""
    push: PushSender
    reminders: SendTaskReminders
    stream_events: StreamEvents
    """GET /v1/events/stream: committed events as they happen, resumed from the outbox."""
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)

    async def start(self) -> None:
        for hook in self.on_start:
            await hook()

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            await hook()


@dataclass
class EventsOut:
    queue: MessageQueue
    handlers: HandlerRegistry
    relay: RelayOutbox
    consumer: ConsumeEvents
    delivery: EventDelivery
    dead_letters: DeadLetters
    purge: PurgeOutbox
    on_start: list[Hook]
    on_stop: list[Hook]


@dataclass
class Conversations:
    chats: ChatStore
    inbound: MessageQueue
    """Verified WhatsApp notifications on their way to the worker."""
    receive: ReceiveWhatsApp
    apply: ApplyWhatsApp
    consumer: ConsumeQueue
    """The worker's loop over `inbound` (`crm worker`, and `crm dev` in process)."""
    on_start: list[Hook]
    on_stop: list[Hook]


@dataclass
class Webhooks:
    create: whs.CreateWebhookSubscription
    list_all: whs.ListWebhookSubscriptions
    get: whs.GetWebhookSubscription
    update: whs.UpdateWebhookSubscription
    delete: whs.DeleteWebhookSubscription
    rotate_secret: whs.RotateWebhookSecret
    list_deliveries: whd.ListWebhookDeliveries
    retry_delivery: whd.RetryWebhookDelivery
    ping: whd.SendWebhookPing
    deliver: DeliverWebhooks
    """The worker's loop (`crm worker`, and `crm dev` in process)."""
    subscribed: list[tuple[str, Handler]]
    on_stop: list[Hook]


@dataclass
class Storage:
    uow: UnitOfWorkFactory
    contacts: ContactReader
    companies: CompanyReader
    pipelines: PipelineReader
    deals: DealReader
    api_keys: ApiKeyReader
    custom_fields: CustomFieldReader
    tags: TagReader
    notes: NoteReader
    tasks: TaskReader
    search: RecordSearch
    tombstones: TombstoneReader
    events: EventReader
    directory: WorkspaceDirectory
    idempotency: IdempotencyFactory
    health_checks: list[HealthCheck]
    on_start: list[Hook]
    on_stop: list[Hook]
    committed: CommittedEvents
    """Told of each committed transaction's events by the units of work (the event stream)."""
    replay: EventReplay


def postgres_storage(url: str, pool_size: int, timeouts: DatabaseTimeouts | None = None) -> Storage:
    timeouts = timeouts or DatabaseTimeouts()
    engine = create_engine(url, pool_size=pool_size, timeouts=timeouts)
    pool = ReadPool(asyncpg_dsn(url), max_size=pool_size, timeouts=timeouts)
    turns = Turns(pool_size, timeouts.pool)
    committed = CommittedEvents()
    return Storage(
        uow=lambda: ReportingUnitOfWork(engine, turns, committed),
        contacts=AsyncpgContactReader(pool),
        companies=AsyncpgCompanyReader(pool),
        pipelines=AsyncpgPipelineReader(pool),
        deals=AsyncpgDealReader(pool),
        api_keys=AsyncpgApiKeyReader(pool),
        custom_fields=AsyncpgCustomFieldReader(pool),
        tags=AsyncpgTagReader(pool),
        notes=AsyncpgNoteReader(pool),
        tasks=AsyncpgTaskReader(pool),
        search=AsyncpgRecordSearch(pool),
        tombstones=AsyncpgTombstoneReader(pool),
        events=AsyncpgEventReader(pool),
        directory=AsyncpgWorkspaceDirectory(pool),
        idempotency=lambda clock, kept: ReportingIdempotencyStore(
            engine, turns, clock, kept, committed
        ),
        health_checks=[PostgresHealthCheck(pool)],
        on_start=[pool.open],
        on_stop=[pool.close, engine.dispose],
        committed=committed,
        replay=AsyncpgEventReplay(pool),
    )


def memory_storage(store: MemoryStore | None = None) -> Storage:
    store = store or MemoryStore()
    committed = CommittedEvents()
    return Storage(
        uow=lambda: ReportingInMemoryUnitOfWork(store, committed),
        contacts=InMemoryContactReader(store),
        companies=InMemoryCompanyReader(store),
        pipelines=InMemoryPipelineReader(store),
        deals=InMemoryDealReader(store),
        api_keys=InMemoryApiKeyReader(store),
        custom_fields=InMemoryCustomFieldReader(store),
        tags=InMemoryTagReader(store),
        notes=InMemoryNoteReader(store),
        tasks=InMemoryTaskReader(store),
        search=InMemoryRecordSearch(store),
        tombstones=InMemoryTombstoneReader(store),
        events=InMemoryEventReader(store),
        directory=InMemoryWorkspaceDirectory(store),
        idempotency=InMemoryIdempotencyStore,
        health_checks=[],
        on_start=[],
        on_stop=[],
        committed=committed,
        replay=InMemoryEventReplay(store),
    )


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    return DatabaseTimeouts(
        connect=settings.database_connect_timeout_seconds,
        pool=settings.database_pool_timeout_seconds,
        statement=settings.database_statement_timeout_seconds,
    )


def build_import_jobs(settings: Settings) -> tuple[ImportJobs, list[Hook]]:
    """Redis when configured (any API process reads any job); else this process's memory."""
    if settings.redis_url is None:
        return InMemoryImportJobs(), []
    # Longer than the rate limiter's timeout: a failed-rows download reads up to 10,000 rows.
    jobs = RedisImportJobs(build_redis_client(settings.redis_url, timeout=2.0))
    return jobs, [jobs.close]


def build_rate_limiter(settings: Settings) -> tuple[RateLimiter, list[HealthCheck]]:
    limit, window = settings.rate_limit_requests, settings.rate_limit_window_seconds
    if settings.redis_url is None:
        return InMemoryRateLimiter(limit, window), []
    client = build_redis_client(settings.redis_url)
    return RedisRateLimiter(client, limit, window), [RedisHealthCheck(client)]


def build_auth_guards(
    settings: Settings,
) -> tuple[CredentialInvalidation, RateLimiter, list[Hook], list[Hook]]:
    """Credential changes and the failed-authentication limiter: through Redis when configured
    (every API process hears and counts), else in this process; with their start and stop."""
    limit = settings.auth_failure_limit
    if settings.redis_url is None:
        return InMemoryCredentialInvalidation(), InMemoryRateLimiter(limit, 60), [], []
    changes = RedisCredentialInvalidation(build_redis_client(settings.redis_url))
    failures = RedisRateLimiter(
        build_redis_client(settings.redis_url), limit, 60, prefix="crm:authfail:"
    )
    return changes, failures, [changes.start], [changes.stop, failures.close]


def build_identity(settings: Settings, clock: Clock) -> tuple[IdentityVerifier, list[Hook]]:
    """Firebase when a project is configured; else nobody signs in (API keys only)."""
    if settings.firebase_project_id is None:
        return NoSignIn(), []
    verifier = FirebaseIdentityVerifier(
        settings.firebase_project_id,
        clock=clock,
        emulator_host=settings.firebase_auth_emulator_host,
        check_revoked=settings.firebase_check_revoked,
        credentials_file=(
            None
            if settings.firebase_credentials_file is None
            else str(settings.firebase_credentials_file)
        ),
    )
    return verifier, [verifier.close]


def build_push_sender(settings: Settings) -> tuple[PushSender, list[Hook]]:
    """Firebase Cloud Messaging when enabled; else notifications are logged (development)."""
    if not settings.fcm_enabled or settings.firebase_project_id is None:
        return InMemoryPushSender(log=True), []
    from crm.adapters.firebase.messaging import FirebasePushSender

    credentials = settings.firebase_credentials_file
    sender = FirebasePushSender(
        settings.firebase_project_id,
        credentials_file=None if credentials is None else str(credentials),
        fcm_url=settings.fcm_url,
    )
    return sender, [sender.close]


def build_event_stream(
    settings: Settings, storage: Storage, clock: Clock
) -> tuple[StreamEvents, EventBroadcaster]:
    """Committed events fan out to every API process through Redis when configured (one
    subscription per process), else within this process; the units of work hand them over."""
    broadcaster: EventBroadcaster = InMemoryEventBroadcaster()
    if settings.redis_url is not None:
        # Their own clients: the subscription holds a connection, the publisher pipelines.
        broadcaster = RedisEventBroadcaster(
            build_redis_client(settings.redis_url), build_redis_client(settings.redis_url)
        )
    storage.committed.listen(
        lambda events: broadcaster.publish([PublishedEvent.of(e) for e in events])
    )
    options = StreamOptions(
        heartbeat_seconds=settings.event_stream_heartbeat_seconds,
        max_per_actor=settings.event_stream_max_per_key,
        max_queued=settings.event_stream_queue_size,
    )
    return StreamEvents(broadcaster, storage.replay, clock, options), broadcaster


def build_webhooks(
    settings: Settings,
    storage: Storage,
    clock: Clock,
    ids: IdGenerator,
    mailer: Mailer,
    resolver: HostResolver | None = None,
) -> Webhooks:
    """Private targets (and http) only where allowed; http also in development."""
    uow, resolver = storage.uow, resolver or SystemResolver()
    allow_http = settings.webhook_allow_private or settings.env is Environment.DEVELOPMENT
    targets = whs.WebhookTargets(TargetPolicy(settings.webhook_allow_private, allow_http), resolver)
    policy = RetryPolicy(
        window=timedelta(hours=settings.webhook_retry_hours),
        disable_after=timedelta(hours=settings.webhook_disable_after_hours),
    )
    sender = AiohttpWebhookSender(
        resolver, targets.policy, settings.webhook_timeout_seconds, settings.webhook_concurrency
    )
    lease = timedelta(seconds=settings.webhook_timeout_seconds + 50)
    options = DeliveryOptions(concurrency=settings.webhook_concurrency, lease=lease)
    deliver = DeliverWebhooks(uow, clock, ids, sender, policy, options)
    s = storage
    records = StoredRecords(s.contacts, s.companies, s.deals, s.pipelines, s.notes, s.tasks)
    return Webhooks(
        create=whs.CreateWebhookSubscription(uow, clock, ids, targets),
        list_all=whs.ListWebhookSubscriptions(uow),
        get=whs.GetWebhookSubscription(uow),
        update=whs.UpdateWebhookSubscription(uow, clock, targets),
        delete=whs.DeleteWebhookSubscription(uow),
        rotate_secret=whs.RotateWebhookSecret(uow, clock),
        list_deliveries=whd.ListWebhookDeliveries(uow),
        retry_delivery=whd.RetryWebhookDelivery(uow, clock, policy, deliver.wake),
        ping=whd.SendWebhookPing(uow, clock, ids, policy, deliver.wake),
        deliver=deliver,
        subscribed=[
            ("*", WebhookFanOut(records, clock, ids, policy)),
            ("webhook_subscription.disabled", EmailWebhookDisabled(uow, mailer)),
        ],
        on_stop=[sender.close],
    )


def build_mailer(settings: Settings) -> tuple[Mailer, list[Hook]]:
    """Mailchimp Transactional when a key is configured; else mail is logged (development)."""
    if settings.mailchimp_api_key is None:
        return InMemoryMailer(log=True), []
    mailer = MailchimpTransactionalMailer(
        settings.mailchimp_api_key.get_secret_value(),
        from_email=settings.mail_from,
        from_name=settings.mail_from_name,
        base_url=settings.mailchimp_base_url,
    )
    return mailer, [mailer.close]


def build_queue(
    settings: Settings, name: str | None = None
) -> tuple[MessageQueue, list[Hook], list[Hook]]:
    """SQS when a queue is named (the events queue unless `name`; its client opened at start,
    closed at stop); else a queue in this process's memory (`crm dev`: the relay and the
    consumers run beside the API)."""
    name = name or settings.sqs_events_queue
    if name is None:
        return InMemoryMessageQueue(settings.sqs_max_receives), [], []
    from crm.adapters.sqs.queue import SqsMessageQueue  # botocore: only where SQS is used

    endpoint = SqsEndpoint(
        settings.aws_region, settings.aws_endpoint_url, read_timeout=settings.sqs_wait_seconds + 10
    )
    queue = SqsMessageQueue(name, endpoint)
    return queue, [queue.open], [queue.close]


def build_blob_store(
    settings: Settings, clock: Clock
) -> tuple[BlobStore, SignedFiles | None, list[Hook], list[Hook]]:
    """S3 when a bucket is named (its client opened at start); else files on this machine's
    disk, whose links the app serves itself (the SignedFiles side)."""
    if settings.s3_bucket is not None:
        from crm.adapters.aws.client import AwsEndpoint
        from crm.adapters.s3.blobs import S3BlobStore

        endpoint = AwsEndpoint(settings.aws_region, settings.aws_endpoint_url)
        s3 = S3BlobStore(settings.s3_bucket, endpoint)
        return s3, None, [s3.open], [s3.close]
    from crm.adapters.localfs.blobs import LocalBlobStore

    base = settings.files_url or settings.public_url or "http://127.0.0.1:8000"
    secret = hmac.new(
        settings.secret_key.get_secret_value().encode(), b"crm.file-links", hashlib.sha256
    ).digest()
    local = LocalBlobStore(settings.data_dir / "files", base, secret, clock)
    return local, local, [], []


def build_messaging(settings: Settings) -> tuple[MessagingProvider, list[Hook]]:
    """The WhatsApp Cloud API (the Graph API at CRM_WHATSAPP_GRAPH_URL)."""
    from crm.adapters.graph.messaging import GraphMessagingProvider

    provider = GraphMessagingProvider(
        base_url=settings.whatsapp_graph_url,
        version=settings.whatsapp_graph_version,
        timeout=settings.whatsapp_timeout_seconds,
    )
    return provider, [provider.close]


def build_chat_store(settings: Settings) -> tuple[ChatStore, list[Hook], list[Hook]]:
    """DynamoDB when chosen (by default, wherever the events go through SQS); else this
    process's memory (`crm dev`, tests)."""
    kind = settings.chat_store
    if kind is None:
        kind = ChatStoreKind.MEMORY if settings.sqs_events_queue is None else ChatStoreKind.DYNAMODB
    if kind is ChatStoreKind.MEMORY:
        return InMemoryChatStore(), [], []
    from crm.adapters.dynamodb.chats import DynamoDbChatStore
    from crm.adapters.dynamodb.client import DynamoDbEndpoint

    endpoint = DynamoDbEndpoint(settings.aws_region, settings.aws_endpoint_url)
    store = DynamoDbChatStore(settings.dynamodb_chats_table, endpoint)
    return store, [store.open], [store.close]


def build_conversations(
    settings: Settings,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    phones: PhoneNumbers,
    media: CopyInboundMedia,
    chats: ChatStore | None = None,
) -> Conversations:
    """The inbound queue is SQS wherever the events queue is (the worker, another process,
    consumes it); the chat store as `build_chat_store` chooses."""
    opens: list[Hook] = []
    closes: list[Hook] = []
    if chats is None:
        chats, opens, closes = build_chat_store(settings)
    inbound, queue_opens, queue_closes = build_queue(settings, settings.inbound_queue)
    secret, token = settings.whatsapp_app_secret, settings.whatsapp_verify_token
    receive = ReceiveWhatsApp(
        inbound,
        ids,
        None if secret is None else secret.get_secret_value(),
        None if token is None else token.get_secret_value(),
    )
    apply = ApplyWhatsApp(uow, chats, clock, ids, phones, media)
    options = ConsumerOptions(
        wait_seconds=settings.sqs_wait_seconds,
        visibility_timeout=settings.sqs_visibility_timeout_seconds,
    )
    consumer = ConsumeQueue("whatsapp-inbound", inbound, apply.handle, options)
    return Conversations(
        chats,
        inbound,
        receive,
        apply,
        consumer,
        on_start=[*opens, *queue_opens],
        # Stopped in reverse: the batcher's last sends go before the queue's client closes.
        on_stop=[*closes, *queue_closes, receive.batcher.close],
    )


def build_handlers(
    settings: Settings, subscribed: Sequence[tuple[str, Handler]] = ()
) -> HandlerRegistry:
    """The event handlers (`subscribed`: pattern and handler), plus those
    `CRM_WORKER_HANDLERS` names (`module:function`, each called with the registry)."""
    registry = HandlerRegistry()
    for pattern, handler in subscribed:
        registry.subscribe(pattern, handler)
    for spec in settings.worker_handlers:
        module, _, function = spec.partition(":")
        getattr(importlib.import_module(module), function)(registry)
    return registry


def build_events_out(
    settings: Settings,
    uow: UnitOfWorkFactory,
    clock: Clock,
    queue: MessageQueue | None,
    subscribed: Sequence[tuple[str, Handler]] = (),
    loops: Sequence[Loop] = (),
) -> EventsOut:
    """The queue's client opens at start (no network until first used); the relay, the
    consumers and the other `loops` of the worker start with the container only under
    CRM_WORKER_IN_PROCESS (`crm dev`): `crm worker` runs them itself."""
    opens: list[Hook] = []
    closes: list[Hook] = []
    if queue is None:
        queue, opens, closes = build_queue(settings)
    handlers = build_handlers(settings, subscribed)
    relay = RelayOutbox(uow, queue, clock, settings.relay_batch_size)
    options = ConsumerOptions(
        wait_seconds=settings.sqs_wait_seconds,
        visibility_timeout=settings.sqs_visibility_timeout_seconds,
    )
    consumer = ConsumeEvents(queue, uow, clock, handlers, options)
    delivery = EventDelivery(relay, consumer, settings.worker_consumers, loops=loops)
    retention = settings.outbox_retention_days
    purge = PurgeOutbox(
        uow,
        clock,
        None if retention is None else timedelta(days=retention),
        timedelta(days=settings.processed_event_retention_days),
        deliveries_retention=timedelta(days=settings.webhook_delivery_retention_days),
    )
    on_start, on_stop = opens, closes
    if settings.worker_in_process:
        on_start, on_stop = [*opens, delivery.start], [*closes, delivery.stop]
    dead = DeadLetters(queue)
    return EventsOut(queue, handlers, relay, consumer, delivery, dead, purge, on_start, on_stop)


async def create_aws_resources(settings: Settings) -> list[tuple[str, str]]:
    """`crm aws create-resources`: the events queue and the inbound WhatsApp queue, each with
    its dead-letter queue (their URLs), the chats table and, when named, the files bucket
    (their ARNs); as (what, where) pairs in that order."""
    if settings.sqs_events_queue is None:
        raise ValueError("Set CRM_SQS_EVENTS_QUEUE to the events queue's name.")
    from crm.adapters.dynamodb.client import DynamoDbEndpoint
    from crm.adapters.dynamodb.resources import create_chats_table
    from crm.adapters.sqs.resources import create_event_queues

    made: list[tuple[str, str]] = []
    sqs = SqsEndpoint(settings.aws_region, settings.aws_endpoint_url)
    queues = [("queue", settings.sqs_events_queue), ("inbound queue", settings.inbound_queue)]
    for what, name in queues:
        if name is None:
            continue
        url, dead = await create_event_queues(
            name,
            sqs,
            max_receives=settings.sqs_max_receives,
            visibility_timeout=settings.sqs_visibility_timeout_seconds,
        )
        made += [(what, url), (f"{what}'s dead-letter queue", dead)]
    table = await create_chats_table(
        settings.dynamodb_chats_table,
        DynamoDbEndpoint(settings.aws_region, settings.aws_endpoint_url),
    )
    made.append(("chats table", table))
    if settings.s3_bucket is not None:
        from crm.adapters.aws.client import AwsEndpoint
        from crm.adapters.s3.resources import create_bucket

        endpoint = AwsEndpoint(settings.aws_region, settings.aws_endpoint_url)
        origins = settings.cors_origins or ["*"]
        made.append(("files bucket", await create_bucket(settings.s3_bucket, endpoint, origins)))
    return made


def build(
    settings: Settings,
    *,
    storage: Storage | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    identity: IdentityVerifier | None = None,
    mailer: Mailer | None = None,
    queue: MessageQueue | None = None,
    push: PushSender | None = None,
    resolver: HostResolver | None = None,
    chats: ChatStore | None = None,
    messaging: MessagingProvider | None = None,
) -> Container:
    """Wire the real adapters named by `settings`; tests may pass any of the others."""
    if storage is None:
        if settings.database_url is None:
            raise ValueError("CRM_DATABASE_URL is not set; `crm dev` starts an embedded database.")
        storage = postgres_storage(
            settings.database_url, settings.database_pool_size, database_timeouts(settings)
        )
    clock, ids = clock or SystemClock(), ids or Uuid7Generator()
    closers: list[Hook] = []
    if identity is None:
        identity, closers = build_identity(settings, clock)
    if mailer is None:
        mailer, mail_closers = build_mailer(settings)
        closers += mail_closers
    secret_key = settings.secret_key.get_secret_value().encode()
    secrets = ApiKeySecrets(secret_key)
    tokens = InvitationTokens(secret_key)
    delivery = inv.InvitationDelivery(settings.invitation_url)
    phones = LibPhoneNumbers(settings.default_phone_region)
    limiter, limiter_checks = build_rate_limiter(settings)
    credentials, auth_failures, guard_starts, guard_stops = build_auth_guards(settings)
    import_jobs, import_closers = build_import_jobs(settings)
    writes = (storage.uow, clock, ids, phones)
    batch_contacts = batch.BatchContacts(*writes)
    batch_companies = batch.BatchCompanies(*writes)
    batch_deals = batch.BatchDeals(*writes)
    importers: dict[ImportObject, Batch] = {
        ImportObject.CONTACTS: batch_contacts,
        ImportObject.COMPANIES: batch_companies,
        ImportObject.DEALS: batch_deals,
    }
    imports = ImportUseCases.build(storage.uow, clock, ids, importers, TempCsvFiles(), import_jobs)
    uow = storage.uow
    sender = (uow, clock, ids, tokens, mailer, delivery)
    push_closers: list[Hook] = []
    if push is None:
        push, push_closers = build_push_sender(settings)
    notified = push_handlers(Notifier(uow, push), storage.tasks, storage.deals)
    reminders = SendTaskReminders(uow, push, clock, poll_seconds=settings.reminder_poll_seconds)
    webhooks = build_webhooks(settings, storage, clock, ids, mailer, resolver)
    messaging_closers: list[Hook] = []
    if messaging is None:
        messaging, messaging_closers = build_messaging(settings)
    cipher = token_cipher(settings)
    blobs, signed_files, blob_opens, blob_closes = build_blob_store(settings, clock)
    media = CopyInboundMedia(messaging, blobs, cipher, settings.whatsapp_media_max_bytes)
    conversations = build_conversations(settings, uow, clock, ids, phones, media, chats)
    follow = AttachmentsFollowTheirRecord(uow, blobs)
    events = build_events_out(
        settings,
        uow,
        clock,
        queue,
        subscribed=[
            *notified,
            *webhooks.subscribed,
            ("contact.merged", MoveChatsOfMergedContact(conversations.chats)),
            *((topic, follow) for topic in follow.topics),
        ],
        loops=[reminders, webhooks.deliver, conversations.consumer],
    )
    streams, broadcaster = build_event_stream(settings, storage, clock)
    return Container(
        settings=settings,
        clock=clock,
        identity=identity,
        mailer=mailer,
        create_workspace=CreateWorkspace(uow, clock, ids, secrets),
        list_workspaces=ListMyWorkspaces(uow),
        list_all_workspaces=ListAllWorkspaces(storage.directory, clock),
        get_workspace=GetWorkspace(uow),
        list_members=mem.ListMembers(uow),
        get_member=mem.GetMember(uow),
        change_member_role=mem.ChangeMemberRole(uow, clock, ids, credentials),
        remove_member=mem.RemoveMember(uow, clock, ids, credentials),
        invite_member=inv.InviteMember(*sender),
        list_invitations=inv.ListInvitations(uow),
        get_invitation=inv.GetInvitation(uow),
        resend_invitation=inv.ResendInvitation(*sender),
        revoke_invitation=inv.RevokeInvitation(uow, clock),
        accept_invitation=inv.AcceptInvitation(uow, clock, ids, tokens),
        create_api_key=keys.CreateApiKey(uow, clock, ids, secrets),
        list_api_keys=keys.ListApiKeys(uow),
        get_api_key=keys.GetApiKey(uow),
        revoke_api_key=keys.RevokeApiKey(uow, clock, credentials),
        authenticate=Authenticate(storage.api_keys, secrets, identity, uow, clock, ids),
        create_contact=CreateContact(uow, clock, ids, phones),
        get_contact=GetContact(storage.contacts, storage.tombstones),
        list_contacts=ListContacts(storage.contacts),
        update_contact=UpdateContact(uow, clock, ids, phones),
        delete_contact=DeleteContact(uow, clock, ids),
        merge_contacts=merging.MergeContacts(uow, clock, ids),
        batch_contacts=batch_contacts,
        batch_companies=batch_companies,
        batch_deals=batch_deals,
        merge_companies=merging.MergeCompanies(uow, clock, ids),
        sales=SalesUseCases.build(uow, clock, ids, storage.pipelines, storage.deals, phones),
        search=SearchUseCases.build(storage.search, storage.custom_fields, phones),
        create_company=co.CreateCompany(uow, clock, ids, phones),
        get_company=co.GetCompany(storage.companies, storage.tombstones),
        list_companies=co.ListCompanies(storage.companies),
        update_company=co.UpdateCompany(uow, clock, ids, phones),
        delete_company=co.DeleteCompany(uow, clock, ids),
        link_company=links.LinkContactToCompany(uow, clock, ids),
        unlink_company=links.UnlinkContactFromCompany(uow, clock, ids),
        list_contact_companies=links.ListContactCompanies(storage.companies),
        list_company_contacts=links.ListCompanyContacts(storage.companies),
        create_custom_field=cf.CreateCustomField(uow, clock, ids),
        list_custom_fields=cf.ListCustomFields(storage.custom_fields),
        get_custom_field=cf.GetCustomField(storage.custom_fields),
        update_custom_field=cf.UpdateCustomField(uow, clock, ids),
        create_tag=cf.CreateTag(uow, clock, ids),
        list_tags=cf.ListTags(storage.tags),
        get_tag=cf.GetTag(storage.tags),
        update_tag=cf.UpdateTag(uow, clock, ids),
        delete_tag=cf.DeleteTag(uow, clock, ids),
        add_note=notes.AddNote(uow, clock, ids),
        list_notes=notes.ListNotes(storage.notes),
        get_note=notes.GetNote(storage.notes),
        update_note=notes.UpdateNote(uow, clock, ids),
        delete_note=notes.DeleteNote(uow, clock, ids),
        create_task=tk.CreateTask(uow, clock, ids),
        list_tasks=tk.ListTasks(storage.tasks),
        list_my_tasks=tk.ListMyTasks(storage.tasks),
        get_task=tk.GetTask(storage.tasks),
        update_task=tk.UpdateTask(uow, clock, ids),
        complete_task=tk.CompleteTask(uow, clock, ids),
        reopen_task=tk.ReopenTask(uow, clock, ids),
        delete_task=tk.DeleteTask(uow, clock, ids),
        get_record_timeline=tl.GetRecordTimeline(storage.events),
        list_audit_events=tl.ListAuditEvents(storage.events),
        imports=imports,
        rate_limiter=limiter,
        auth_failures=auth_failures,
        credentials=credentials,
        idempotency=storage.idempotency(
            clock, timedelta(hours=settings.idempotency_retention_hours)
        ),
        health_checks=storage.health_checks + limiter_checks,
        events=events,
        webhooks=webhooks,
        stream_events=streams,
        devices=DeviceUseCases.build(uow, clock, ids),
        channels=ChannelUseCases.build(uow, clock, ids, cipher),
        conversations=conversations,
        chats=ChatUseCases.build(
            conversations.chats, uow, clock, ids, storage.contacts, cipher, messaging, blobs
        ),
        blobs=blobs,
        signed_files=signed_files,
        attachments=AttachmentUseCases.build(
            uow,
            clock,
            ids,
            blobs,
            RecordReaders(storage.contacts, storage.companies, storage.deals, storage.notes),
        ),
        push=push,
        reminders=reminders,
        on_start=[
            *storage.on_start,
            *guard_starts,
            *blob_opens,
            *conversations.on_start,
            *events.on_start,
            broadcaster.start,
        ],
        # Hooks stop in reverse: running imports are cancelled (and marked) before the
        # stores they write to close.
        on_stop=[
            *storage.on_stop,
            limiter.close,
            *guard_stops,
            *closers,
            *push_closers,
            *import_closers,
            imports.runner.stop,
            *webhooks.on_stop,
            *conversations.on_stop,
            *messaging_closers,
            *blob_closes,
            *events.on_stop,
            broadcaster.stop,
        ],
    )


def database_url(settings: Settings) -> str:
    """The configured database, else an embedded one started now in the data directory."""
    if settings.database_url is not None:
        return settings.database_url
    from crm.adapters.postgres.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir.resolve())


def existing_database_url(settings: Settings) -> str | None:
    """The configured database, else the embedded one `crm dev` made in the data directory
    (the running server of a `crm dev`, or started for this process); None without either."""
    from crm.adapters.postgres.embedded import has_embedded_postgres

    if settings.database_url is None and not has_embedded_postgres(settings.data_dir.resolve()):
        return None
    return database_url(settings)


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Apply (or with `down`, revert to `revision`) the Alembic migrations; blocking."""
    from crm.adapters.postgres import migrations

    if down:
        migrations.downgrade(url, revision)
    else:
        migrations.upgrade(url, revision)


def token_cipher(settings: Settings) -> FernetTokenCipher:
    """The cipher of channel access tokens: the configured keys, else one derived from the
    secret key."""
    keys = [k.get_secret_value() for k in settings.channel_token_keys]
    if keys:
        return FernetTokenCipher(keys)
    return FernetTokenCipher.derived_from(settings.secret_key.get_secret_value())
