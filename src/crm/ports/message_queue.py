"""A distributed message queue with visibility timeouts and a dead-letter queue (Amazon SQS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from crm.domain.errors import PortError

MAX_BATCH = 10
"""The most messages one send, receive or delete takes (SQS's limit)."""


class QueueMissing(PortError):
    """The queue (or its dead-letter queue) does not exist: `crm aws create-resources` makes
    them; the service never creates them while it runs."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """`id` names the message in its batch and deduplicates it on FIFO queues; `group` keeps
    the messages of one group in order on FIFO queues (standard queues ignore both)."""

    id: str
    body: str
    group: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """`receipt` names this receive (delete and extend with it); `receive_count` counts every
    receive of the message so far, this one included."""

    message_id: str
    body: str
    receipt: str
    receive_count: int
    sent_at: datetime | None = None


class MessageQueue(Protocol):
    """At-least-once delivery: a received message stays in the queue, invisible for its
    visibility timeout, until it is deleted; after `max receives` it moves to the dead-letter
    queue. Vendor failures arrive as ServiceUnavailable (transient) or PortError."""

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Enqueue up to MAX_BATCH messages with distinct ids (ValueError otherwise): all of
        them, or raise (some may have been sent: at least once)."""

    async def receive(
        self, max_messages: int, wait_seconds: float, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        """Up to `max_messages` (≤ MAX_BATCH) visible messages, waiting up to `wait_seconds`
        for the first; each stays invisible for `visibility_timeout` seconds."""

    async def delete(self, receipts: Sequence[str]) -> None:
        """Remove received messages for good (up to MAX_BATCH receipts)."""

    async def change_visibility(self, receipt: str, seconds: int) -> None:
        """Hide a received message for `seconds` more seconds from now (0: visible again)."""

    async def dead_letters(self, limit: int) -> list[ReceivedMessage]:
        """Up to `limit` messages of the dead-letter queue, left in it (looking counts as a
        receive there)."""

    async def redrive(self, limit: int | None = None) -> int:
        """Move dead letters (all, or up to `limit`) back to the queue as new messages, their
        receive count starting again; how many moved."""
