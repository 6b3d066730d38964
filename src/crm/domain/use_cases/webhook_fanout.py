"""Events into webhook deliveries (a transactional handler), the records they carry, and the
email to admins when the service disables a subscription."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

from crm.domain.errors import DeliveryRejected
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.permissions import Role
from crm.domain.model.snapshot import jsonable
from crm.domain.model.webhook_deliveries import RetryPolicy, WebhookDelivery, body_of
from crm.domain.model.webhooks import WebhookSubscription
from crm.domain.pagination import PageRequest
from crm.ports.companies import CompanyReader
from crm.ports.deals import DealReader, PipelineReader
from crm.ports.mailer import EmailMessage, Mailer
from crm.ports.notes import NoteReader
from crm.ports.repositories import ContactReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.tasks import TaskReader
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from crm.ports.webhooks import RecordReader

log = logging.getLogger("crm.webhooks")

Read = Callable[[UUID, UUID], Awaitable[Any]]


class StoredRecords:
    """Contacts, companies, deals, pipelines, notes and tasks as stored (every field, as
    JSON); any other kind of record reads as None."""

    def __init__(
        self,
        contacts: ContactReader,
        companies: CompanyReader,
        deals: DealReader,
        pipelines: PipelineReader,
        notes: NoteReader,
        tasks: TaskReader,
    ) -> None:
        self._reads: dict[str, Read] = {
            "contact": contacts.get,
            "company": companies.get,
            "deal": deals.get,
            "pipeline": pipelines.get,
            "note": notes.get,
            "task": tasks.get,
        }

    async def record(
        self, workspace_id: UUID, aggregate_type: str, aggregate_id: UUID
    ) -> dict[str, Any] | None:
        read = self._reads.get(aggregate_type)
        found = None if read is None else await read(workspace_id, aggregate_id)
        if found is None:
            return None
        view: dict[str, Any] = jsonable(dataclasses.asdict(found))
        return view


class WebhookFanOut:
    """Turns an event into one delivery per enabled subscription that wants it, written in
    the transaction that records the event as handled (so exactly once). The body is made
    here, once per event: the record is read now, as stored."""

    name = "webhooks"

    def __init__(
        self, records: RecordReader, clock: Clock, ids: IdGenerator, policy: RetryPolicy
    ) -> None:
        self._records, self._clock, self._ids, self._policy = records, clock, ids, policy

    async def handle_in(self, tx: UnitOfWork, event: PublishedEvent) -> None:
        await self.handle_all_in(tx, [event])

    async def handle_all_in(self, tx: UnitOfWork, events: Sequence[PublishedEvent]) -> None:
        """Several events at once: one subscription query per workspace and event type, the
        records read concurrently, the deliveries written in one statement."""
        subscriptions: dict[tuple[UUID, str], list[WebhookSubscription]] = {}
        wanting: list[tuple[PublishedEvent, list[WebhookSubscription]]] = []
        for event in events:
            key = (event.workspace_id, event.type)
            if key not in subscriptions:
                subscriptions[key] = await tx.webhook_subscriptions.matching(*key)
            changes = event.payload.get("changes")
            changes = changes if isinstance(changes, dict) else None
            wanted = [s for s in subscriptions[key] if s.wants(event.type, changes)]
            if wanted:
                wanting.append((event, wanted))
        if not wanting:
            return
        records = await asyncio.gather(
            *(
                self._records.record(e.workspace_id, e.aggregate_type, e.aggregate_id)
                for e, _ in wanting
            )
        )
        now, window = self._clock.now(), self._policy.window
        made = []
        for (event, wanted), record in zip(wanting, records, strict=True):
            body = body_of(event, record)  # once per event, whatever the subscriptions
            made += [
                WebhookDelivery.new(self._ids.new_id(), s, event, body, now, window) for s in wanted
            ]
        await tx.webhook_deliveries.add(made)


class EmailWebhookDisabled:
    """Emails the workspace's owners and admins that a subscription was disabled (at least
    once: a failure part way sends again to all)."""

    name = "webhook-disabled-email"

    def __init__(self, uow: UnitOfWorkFactory, mailer: Mailer, product_name: str = "CRM") -> None:
        self._uow, self._mailer, self._product = uow, mailer, product_name

    async def handle(self, event: PublishedEvent) -> None:
        for to in await self._admins(event.workspace_id):
            try:
                await self._mailer.send(self._message(to, event))
            except DeliveryRejected as e:
                log.warning("webhook disabled email to %s rejected: %s", to, e)

    def _message(self, to: str, event: PublishedEvent) -> EmailMessage:
        data = event.payload
        why = {
            "gone": "its receiver answered 410 Gone",
            "failing": f"every delivery has failed since {data.get('failing_since')}",
        }.get(str(data.get("reason")), "of its delivery failures")
        return EmailMessage(
            to=to,
            subject=f"{self._product}: a webhook subscription was disabled",
            text=f"The webhook subscription {event.aggregate_id} to {data.get('url')} was "
            f"disabled because {why}. No events are sent to it until it is enabled again "
            f"(PATCH /v1/webhook-subscriptions/{event.aggregate_id} with enabled: true); "
            "its delivery log is at GET "
            f"/v1/webhook-subscriptions/{event.aggregate_id}/deliveries.",
            tags=("webhook-disabled",),
        )

    async def _admins(self, workspace_id: UUID) -> list[str]:
        emails: list[str] = []
        page = PageRequest(limit=200)
        async with self._uow() as uow:
            while True:
                found = await uow.members.list(workspace_id, page)
                emails += [
                    m.email
                    for m in found.items
                    if m.email and m.member.role in (Role.OWNER, Role.ADMIN)
                ]
                if found.next is None:
                    return emails
                page = PageRequest(limit=200, after=found.next, order=page.order)
