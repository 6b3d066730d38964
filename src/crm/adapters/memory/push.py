"""Push notifications in memory: the sender tests and `crm dev` without FCM use, and the
devices, settings and reminders over `MemoryState`, behaving like the Postgres ones."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from crm.adapters.memory.state import MemoryState
from crm.domain.errors import VersionConflict
from crm.domain.model.push import (
    Device,
    DueReminder,
    NotificationKind,
    NotificationSettings,
    PushMessage,
    PushOutcome,
    Recipient,
    TaskReminder,
)
from crm.domain.model.task import Task

logger = logging.getLogger("crm.push")


class InMemoryPushSender:
    """Records every send; tokens in `dead` are reported dead, those in `unreachable` failed."""

    def __init__(self, *, log: bool = False) -> None:
        self.sent: list[tuple[str, PushMessage]] = []
        self.dead: set[str] = set()
        self.unreachable: set[str] = set()
        self._log = log

    async def send(self, tokens: Sequence[str], message: PushMessage) -> PushOutcome:
        dead = frozenset(t for t in tokens if t in self.dead)
        failed = frozenset(t for t in tokens if t in self.unreachable and t not in dead)
        delivered = [t for t in tokens if t not in dead and t not in failed]
        self.sent += [(token, message) for token in delivered]
        if self._log and delivered:
            # With no FCM configured, the log is where a developer sees notifications.
            logger.info("Push to %d device(s): %s — %s %s", len(delivered), *_shown(message))
        return PushOutcome(len(delivered), dead, failed)

    def to(self, token: str) -> list[PushMessage]:
        return [m for t, m in self.sent if t == token]

    async def close(self) -> None:
        """Nothing to release."""


def _shown(message: PushMessage) -> tuple[str, str, dict[str, str]]:
    return message.title, message.body, message.data


class InMemoryDeviceRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def register(self, device: Device) -> Device:
        held = next((d for d in self._s.devices.values() if d.token == device.token), None)
        if held is not None:
            del self._s.devices[held.id]
            if held.user_id == device.user_id:
                device = replace(device, id=held.id, created_at=held.created_at)
        self._s.devices[device.id] = device
        return device

    async def get(self, user_id: UUID, device_id: UUID) -> Device | None:
        found = self._s.devices.get(device_id)
        return found if found is not None and found.user_id == user_id else None

    async def list_for(
        self, user_id: UUID, limit: int, after: tuple[datetime, UUID] | None = None
    ) -> list[Device]:
        mine = sorted(
            (d for d in self._s.devices.values() if d.user_id == user_id),
            key=lambda d: (d.created_at, d.id),
        )
        if after is not None:
            mine = [d for d in mine if (d.created_at, d.id) > after]
        return mine[:limit]

    async def remove(self, user_id: UUID, device_id: UUID) -> bool:
        if await self.get(user_id, device_id) is None:
            return False
        del self._s.devices[device_id]
        return True

    async def keep_newest(self, user_id: UUID, keep: int) -> int:
        mine = sorted(
            (d for d in self._s.devices.values() if d.user_id == user_id),
            key=lambda d: (d.updated_at, d.id),
            reverse=True,
        )
        for device in mine[keep:]:
            del self._s.devices[device.id]
        return len(mine[keep:])

    async def remove_tokens(self, tokens: Sequence[str]) -> int:
        doomed = [d.id for d in self._s.devices.values() if d.token in set(tokens)]
        for device_id in doomed:
            del self._s.devices[device_id]
        return len(doomed)


class InMemoryNotificationSettingsRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def get(self, user_id: UUID) -> NotificationSettings:
        return self._s.notification_settings.get(user_id) or NotificationSettings(user_id)

    async def save(self, settings: NotificationSettings, expected_version: int) -> None:
        if (await self.get(settings.user_id)).version != expected_version:
            raise VersionConflict("The notification settings were changed meanwhile.")
        self._s.notification_settings[settings.user_id] = settings

    async def recipient(self, user_id: UUID) -> Recipient:
        mine = sorted(
            (d for d in self._s.devices.values() if d.user_id == user_id),
            key=lambda d: (d.updated_at, d.id),
            reverse=True,
        )
        return Recipient(await self.get(user_id), tuple(d.token for d in mine))


class InMemoryReminderRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def plan(self, now: datetime, late: timedelta) -> int:
        planned = 0
        for task in self._s.tasks.values():
            remind_at = self._remind_at(task, now, late)
            if remind_at is None or task.assignee_id is None or task.due_at is None:
                continue
            key = (task.id, task.due_at, task.assignee_id)
            if key not in self._s.task_reminders:
                self._s.task_reminders[key] = TaskReminder(*key, task.workspace_id, remind_at)
                planned += 1
        return planned

    def _remind_at(self, task: Task, now: datetime, late: timedelta) -> datetime | None:
        """When to remind of `task`, if that time has come and its assignee wants it."""
        user = task.assignee_id
        if task.done_at is not None or task.due_at is None or user is None:
            return None
        settings = self._s.notification_settings.get(user) or NotificationSettings(user)
        remind_at = task.due_at - timedelta(minutes=settings.reminder_lead_minutes)
        wanted = (
            remind_at <= now
            and task.due_at >= now - late
            and not settings.mutes(NotificationKind.TASK_DUE)
            and any(d.user_id == user for d in self._s.devices.values())
            and (task.workspace_id, user) in self._s.members
        )
        return remind_at if wanted else None

    async def claim(self, limit: int) -> list[DueReminder]:
        claimed: list[DueReminder] = []
        waiting = [r for r in self._s.task_reminders.values() if r.sent_at is None]
        for r in sorted(waiting, key=lambda r: r.remind_at):
            task = self._s.tasks.get(r.task_id)
            if task is None:  # the foreign key's cascade
                del self._s.task_reminders[r.task_id, r.due_at, r.user_id]
                continue
            if len(claimed) < limit:
                claimed.append(_due(r, task))
        return claimed

    async def mark_sent(self, reminders: Sequence[DueReminder], at: datetime) -> None:
        for r in reminders:
            stored = self._s.task_reminders.get((r.task_id, r.due_at, r.user_id))
            if stored is not None:
                stored.sent_at = at

    async def purge(self, due_before: datetime) -> int:
        old = [k for k, r in self._s.task_reminders.items() if r.due_at < due_before]
        for key in old:
            del self._s.task_reminders[key]
        return len(old)


def _due(r: TaskReminder, task: Task) -> DueReminder:
    current = task.done_at is None and task.due_at == r.due_at and task.assignee_id == r.user_id
    return DueReminder(r.task_id, r.due_at, r.user_id, r.workspace_id, task.title, current)
