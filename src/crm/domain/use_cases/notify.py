"""Push notifications of events: a task assigned to me, a deal whose owner becomes me.

Both are EventHandlers on the consumers' registry: at least once per event (the registry
records the event id once they succeed). They notify nobody of their own change, respect
what the person muted, and cost one query for a person without devices. A notification is
about the record as it is now: a task since reassigned or done, or a deal since handed on,
is not announced late."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from crm.domain.errors import ServiceUnavailable
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.push import NotificationKind, PushMessage, PushOutcome, Recipient
from crm.ports.deals import DealReader
from crm.ports.delivery import Handler
from crm.ports.push import PushSender
from crm.ports.tasks import TaskReader
from crm.ports.unit_of_work import UnitOfWorkFactory

log = logging.getLogger("crm.push")


class Notifier:
    """Who to tell (settings and devices) and the telling: dead tokens are pruned; when no
    device could be reached at all the send fails (ServiceUnavailable), to be tried again."""

    def __init__(self, uow: UnitOfWorkFactory, sender: PushSender) -> None:
        self._uow, self._sender = uow, sender

    async def recipient(self, user_id: UUID) -> Recipient:
        async with self._uow() as tx:
            return await tx.notification_settings.recipient(user_id)

    async def deliver(self, recipient: Recipient, message: PushMessage) -> PushOutcome:
        outcome = await self._sender.send(recipient.tokens, message)
        await self.prune(outcome)
        if outcome.failed and not outcome.delivered:
            raise ServiceUnavailable(f"No device took the {message.kind} notification.")
        return outcome

    async def prune(self, outcome: PushOutcome) -> None:
        if outcome.dead:
            async with self._uow() as tx:
                pruned = await tx.devices.remove_tokens(sorted(outcome.dead))
                await tx.commit()
            log.info("pruned %d dead device token(s)", pruned)


def _changed_to(event: PublishedEvent, field: str) -> UUID | None:
    """Who `field` names after the event: its value on create, its new value on update
    (None when the update did not touch it)."""
    payload: dict[str, Any] = event.payload
    if event.type.endswith(".created"):
        value = payload.get(field)
    else:
        value = payload.get("changes", {}).get(field, {}).get("new")
    try:
        return None if value is None else UUID(str(value))
    except ValueError:
        return None


class NotifyTaskAssigned:
    """task.created / task.updated giving the task to someone other than the actor."""

    name = "push.task_assigned"
    kind = NotificationKind.TASK_ASSIGNED

    def __init__(self, notifier: Notifier, tasks: TaskReader) -> None:
        self._notifier, self._tasks = notifier, tasks

    async def handle(self, event: PublishedEvent) -> None:
        user = _changed_to(event, "assignee_id")
        if user is None or user == event.actor_id:
            return
        recipient = await self._notifier.recipient(user)
        if not recipient.wants(self.kind):
            return
        task = await self._tasks.get(event.workspace_id, event.aggregate_id)
        if task is None or task.assignee_id != user or task.is_done:
            return
        message = PushMessage.of(
            self.kind,
            "New task for you",
            task.title,
            task.id,
            workspace_id=task.workspace_id,
            task_id=task.id,
            event_id=event.id,
            due_at=None if task.due_at is None else task.due_at.isoformat(),
        )
        await self._notifier.deliver(recipient, message)


class NotifyDealOwner:
    """deal.created / deal.updated making someone other than the actor the deal's owner."""

    name = "push.deal_owner_changed"
    kind = NotificationKind.DEAL_OWNER_CHANGED

    def __init__(self, notifier: Notifier, deals: DealReader) -> None:
        self._notifier, self._deals = notifier, deals

    async def handle(self, event: PublishedEvent) -> None:
        user = _changed_to(event, "owner_id")
        if user is None or user == event.actor_id:
            return
        recipient = await self._notifier.recipient(user)
        if not recipient.wants(self.kind):
            return
        deal = await self._deals.get(event.workspace_id, event.aggregate_id)
        if deal is None or deal.owner_id != user:
            return
        message = PushMessage.of(
            self.kind,
            "A deal is now yours",
            deal.name,
            deal.id,
            workspace_id=deal.workspace_id,
            deal_id=deal.id,
            event_id=event.id,
        )
        await self._notifier.deliver(recipient, message)


class NotifyChatAssignee:
    """chat.message_received in a chat assigned to someone: the customer's words (or what
    they sent) on the assignee's devices, one notification per chat replacing the last."""

    name = "push.chat_message"
    kind = NotificationKind.CHAT_MESSAGE

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def handle(self, event: PublishedEvent) -> None:
        payload: dict[str, Any] = event.payload
        try:
            user = UUID(str(payload["assignee_id"]))
        except (KeyError, ValueError):
            return  # nobody is assigned (null)
        recipient = await self._notifier.recipient(user)
        if not recipient.wants(self.kind):
            return
        message = payload.get("message") or {}
        sender = (message.get("metadata") or {}).get("sender_name")
        title = str(sender or payload.get("customer_phone") or "WhatsApp")
        body = str(message.get("text") or f"[{message.get('kind', 'message')}]")[:200]
        push = PushMessage.of(
            self.kind,
            title,
            body,
            event.aggregate_id,
            workspace_id=event.workspace_id,
            chat_id=event.aggregate_id,
            contact_id=payload.get("contact_id"),
            event_id=event.id,
        )
        await self._notifier.deliver(recipient, push)


def push_handlers(
    notifier: Notifier, tasks: TaskReader, deals: DealReader
) -> list[tuple[str, Handler]]:
    """The handlers and the event types they subscribe to."""
    assigned = NotifyTaskAssigned(notifier, tasks)
    owner = NotifyDealOwner(notifier, deals)
    return [
        ("chat.message_received", NotifyChatAssignee(notifier)),
        ("task.created", assigned),
        ("task.updated", assigned),
        ("deal.created", owner),
        ("deal.updated", owner),
    ]
