"""Push notifications: the sender, and the devices, settings and reminders it is fed from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from crm.domain.model.push import (
    Device,
    DueReminder,
    NotificationSettings,
    PushMessage,
    PushOutcome,
    Recipient,
)


class PushSender(Protocol):
    """Sends one notification to devices (Firebase Cloud Messaging, or memory)."""

    async def send(self, tokens: Sequence[str], message: PushMessage) -> PushOutcome:
        """Send `message` to each token. What became of each comes back in the outcome: dead
        tokens, and tokens not reached this time (the provider down or throttling)."""

    async def close(self) -> None: ...


class DeviceRepository(Protocol):
    """A person's devices, inside a unit of work. A token belongs to one person at a time."""

    async def register(self, device: Device) -> Device:
        """Upsert by token: the caller's own token is updated in place (its id kept); a token
        another person held moves to `device.user_id` as a new device (`device.id`)."""

    async def get(self, user_id: UUID, device_id: UUID) -> Device | None: ...

    async def list_for(
        self, user_id: UUID, limit: int, after: tuple[datetime, UUID] | None = None
    ) -> list[Device]:
        """Oldest registration first (created_at, id), after the position given."""

    async def remove(self, user_id: UUID, device_id: UUID) -> bool: ...

    async def keep_newest(self, user_id: UUID, keep: int) -> int:
        """Drop all but the `keep` most recently registered devices; how many went."""

    async def remove_tokens(self, tokens: Sequence[str]) -> int:
        """Forget dead tokens, whoever holds them; how many went."""


class NotificationSettingsRepository(Protocol):
    async def get(self, user_id: UUID) -> NotificationSettings:
        """The stored settings, or the defaults (version 1) when none were ever saved."""

    async def save(self, settings: NotificationSettings, expected_version: int) -> None:
        """Write; VersionConflict when the stored version is not `expected_version`."""

    async def recipient(self, user_id: UUID) -> Recipient:
        """Their settings and device tokens in one go: what a notification needs to know."""


class ReminderRepository(Protocol):
    """Task reminders, one per (task, due time, assignee): a rescheduled or reassigned task
    gets a new one, a done or deleted task none."""

    async def plan(self, now: datetime, late: timedelta) -> int:
        """Record the reminders that came due: open tasks with a due time and an assignee who
        has a device and has not muted `task_due`, whose due time minus the assignee's lead
        time has passed and whose due time is at most `late` ago. Idempotent; how many new."""

    async def claim(self, limit: int) -> list[DueReminder]:
        """Unsent reminders, locked until the unit of work ends; rows another unit of work
        holds are skipped, not waited for."""

    async def mark_sent(self, reminders: Sequence[DueReminder], at: datetime) -> None: ...

    async def purge(self, due_before: datetime) -> int:
        """Forget reminders of due times before `due_before` (no longer needed to dedupe)."""
