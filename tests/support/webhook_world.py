"""A small world for the webhook use-case tests: the memory store, a clock the test moves, a
resolver answering from a table, and the webhook use cases wired on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.companies import InMemoryCompanyReader
from crm.adapters.memory.deals import InMemoryDealReader, InMemoryPipelineReader
from crm.adapters.memory.mailer import InMemoryMailer
from crm.adapters.memory.notes import InMemoryNoteReader
from crm.adapters.memory.readers import InMemoryContactReader
from crm.adapters.memory.resolver import StaticResolver
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.memory.tasks import InMemoryTaskReader
from crm.adapters.memory.webhook_sender import RecordingWebhookSender
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.permissions import ActorKind, Principal, Role
from crm.domain.model.webhook_deliveries import RetryPolicy
from crm.domain.model.webhook_targets import TargetPolicy
from crm.domain.model.workspace import Member, User, Workspace
from crm.domain.use_cases import webhook_deliveries as whd
from crm.domain.use_cases import webhook_subscriptions as whs
from crm.domain.use_cases.deliver_webhooks import DeliverWebhooks, DeliveryOptions
from crm.domain.use_cases.webhook_fanout import EmailWebhookDisabled, StoredRecords, WebhookFanOut
from crm.ports.webhooks import WebhookSender

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
PUBLIC = "93.184.216.34"


@dataclass
class WebhookWorld:
    sender: WebhookSender = field(default_factory=RecordingWebhookSender)
    store: MemoryStore = field(default_factory=MemoryStore)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    resolver: StaticResolver = field(
        default_factory=lambda: StaticResolver({"hooks.example.com": [PUBLIC]})
    )
    mailer: InMemoryMailer = field(default_factory=InMemoryMailer)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    jitter: float = 0.5
    allow_private: bool = False

    def __post_init__(self) -> None:
        ids = Uuid7Generator()
        self.ids = ids
        targets = whs.WebhookTargets(TargetPolicy(self.allow_private), self.resolver)
        uow, clock, policy = self.uow, self.clock, self.policy
        self.create = whs.CreateWebhookSubscription(uow, clock, ids, targets)
        self.update = whs.UpdateWebhookSubscription(uow, clock, targets)
        self.rotate = whs.RotateWebhookSecret(uow, clock)
        self.deliveries = whd.ListWebhookDeliveries(uow)
        self.retry = whd.RetryWebhookDelivery(uow, clock, policy)
        self.ping = whd.SendWebhookPing(uow, clock, ids, policy)
        s = self.store
        records = StoredRecords(
            InMemoryContactReader(s),
            InMemoryCompanyReader(s),
            InMemoryDealReader(s),
            InMemoryPipelineReader(s),
            InMemoryNoteReader(s),
            InMemoryTaskReader(s),
        )
        self.fan_out = WebhookFanOut(records, clock, ids, policy)
        self.email = EmailWebhookDisabled(uow, self.mailer)
        self.deliver = DeliverWebhooks(
            uow, clock, ids, self.sender, policy, DeliveryOptions(), jitter=lambda: self.jitter
        )

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def workspace(self, *people: tuple[str, Role]) -> Principal:
        """A workspace with these people (email, role); its owner acts."""
        workspace = Workspace(uuid4(), "Acme", T0)
        owner = User(uuid4(), "owner@acme.example", "Owner", T0)
        async with self.uow() as tx:
            await tx.workspaces.add(workspace)
            for user, role in [(owner, Role.OWNER)] + [
                (User(uuid4(), email, None, T0), role) for email, role in people
            ]:
                await tx.users.add(user)
                await tx.members.add(Member(workspace.id, user.id, role, T0))
            await tx.commit()
        return Principal(workspace.id, owner.id, ActorKind.USER, role=Role.OWNER)

    async def subscribe(self, who: Principal, **raw: Any) -> tuple[UUID, str]:
        body = {"url": "https://hooks.example.com/in", "event_types": ["*"], **raw}
        made, secret = await self.create.execute(who, body)
        return made.id, secret

    async def handle(self, event: PublishedEvent) -> None:
        """The fan-out handler, in a unit of work of its own (as the consumer runs it)."""
        async with self.uow() as tx:
            await self.fan_out.handle_in(tx, event)
            await tx.commit()

    async def handle_all(self, events: list[PublishedEvent]) -> None:
        """The fan-out handler over a received batch, in one unit of work."""
        async with self.uow() as tx:
            await self.fan_out.handle_all_in(tx, events)
            await tx.commit()


def published(
    who: Principal, topic: str, aggregate_id: UUID | None = None, **payload: Any
) -> PublishedEvent:
    return PublishedEvent(
        id=uuid4(),
        type=topic,
        workspace_id=who.workspace_id,
        aggregate_type=topic.split(".")[0],
        aggregate_id=aggregate_id or uuid4(),
        actor_id=who.actor_id,
        occurred_at=T0,
        payload=payload,
    )
