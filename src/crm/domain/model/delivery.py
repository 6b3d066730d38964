"""Events on their way out: the message format every queue, handler and channel shares.

An outbox row becomes a `PublishedEvent`, travels as one JSON message (`encode`), and every
consumer decodes the same shape (`decode`). The format is versioned (`format`), so a
consumer can refuse a message it does not understand instead of misreading it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.model.events import DomainEvent

FORMAT = 1
"""The message format's version, `"format"` in every message."""


class MalformedEvent(ValueError):
    """A message that is not a published event of a format this code reads."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedEvent:
    """One domain event as consumers see it: `type` is the event's topic (`contact.updated`),
    `payload` its JSON payload as recorded (updates carry `changes`: old and new per field)."""

    id: UUID
    type: str
    workspace_id: UUID
    aggregate_type: str
    aggregate_id: UUID
    actor_id: UUID | None
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, event: DomainEvent) -> PublishedEvent:
        return cls(
            id=event.id,
            type=event.topic,
            workspace_id=event.workspace_id,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            actor_id=event.actor_id,
            occurred_at=event.occurred_at,
            payload=event.payload,
        )

    def encode(self) -> str:
        """The message body: compact JSON, ids as strings, the time in RFC 3339."""
        return json.dumps(
            {
                "format": FORMAT,
                "id": str(self.id),
                "type": self.type,
                "workspace_id": str(self.workspace_id),
                "aggregate_type": self.aggregate_type,
                "aggregate_id": str(self.aggregate_id),
                "actor_id": None if self.actor_id is None else str(self.actor_id),
                "occurred_at": self.occurred_at.isoformat(),
                "payload": self.payload,
            },
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def decode(cls, body: str) -> PublishedEvent:
        """The event in `body`; MalformedEvent when it is not one (or of an unknown format)."""
        try:
            data = json.loads(body)
            if data["format"] != FORMAT:
                raise MalformedEvent(f"unknown message format {data['format']!r}")
            actor = data["actor_id"]
            return cls(
                id=UUID(data["id"]),
                type=str(data["type"]),
                workspace_id=UUID(data["workspace_id"]),
                aggregate_type=str(data["aggregate_type"]),
                aggregate_id=UUID(data["aggregate_id"]),
                actor_id=None if actor is None else UUID(actor),
                occurred_at=datetime.fromisoformat(data["occurred_at"]),
                payload=dict(data["payload"]),
            )
        except MalformedEvent:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise MalformedEvent(f"not a published event: {e}") from e


def topic_matches(pattern: str, topic: str) -> bool:
    """`*` matches every topic, `contact.*` every topic under `contact.`, anything else itself."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic
