"""Devices, notification settings and task reminders in the unit of work (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, DateTime, Text, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.domain.errors import VersionConflict
from crm.domain.model.push import (
    DEFAULT_LEAD_MINUTES,
    Device,
    DueReminder,
    NotificationKind,
    NotificationSettings,
    Platform,
    Recipient,
)

_DEVICE = "id, user_id, token, platform, app_version, created_at, updated_at"
# The caller's own token keeps its id and first registration; another person's moves to the
# caller as a new device. Concurrent registrations of one token: the last one wins.
_REGISTER = text(
    f"INSERT INTO device AS d ({_DEVICE}) "  # noqa: S608 - constants only
    "VALUES (:id, :user_id, :token, :platform, :app_version, :created_at, :updated_at) "
    "ON CONFLICT (token) DO UPDATE SET "
    "id = CASE WHEN d.user_id = EXCLUDED.user_id THEN d.id ELSE EXCLUDED.id END, "
    "created_at = CASE WHEN d.user_id = EXCLUDED.user_id THEN d.created_at "
    "ELSE EXCLUDED.created_at END, "
    "user_id = EXCLUDED.user_id, platform = EXCLUDED.platform, "
    "app_version = EXCLUDED.app_version, updated_at = EXCLUDED.updated_at "
    f"RETURNING {_DEVICE}"
)
_GET = text(f"SELECT {_DEVICE} FROM device WHERE user_id = :user_id AND id = :id")  # noqa: S608
_LIST = text(
    f"SELECT {_DEVICE} FROM device WHERE user_id = :user_id "  # noqa: S608
    "ORDER BY created_at, id LIMIT :limit"
)
_LIST_AFTER = text(
    f"SELECT {_DEVICE} FROM device WHERE user_id = :user_id "  # noqa: S608
    "AND (created_at, id) > (:created_at, :id) ORDER BY created_at, id LIMIT :limit"
)
_REMOVE = text("DELETE FROM device WHERE user_id = :user_id AND id = :id RETURNING id")
_KEEP_NEWEST = text(
    "DELETE FROM device WHERE user_id = :user_id AND id NOT IN (SELECT id FROM device "
    "WHERE user_id = :user_id ORDER BY updated_at DESC, id DESC LIMIT :keep)"
)
_REMOVE_TOKENS = text("DELETE FROM device WHERE token = ANY(:tokens)").bindparams(
    bindparam("tokens", type_=ARRAY(Text()))
)

_SETTINGS = text(
    "SELECT muted, reminder_lead_minutes, version, updated_at "
    "FROM notification_settings WHERE user_id = :user_id"
)
# Inserted at version 2 (the defaults are version 1); updated only from the version read.
_SAVE_SETTINGS = text(
    "INSERT INTO notification_settings AS s "
    "(user_id, muted, reminder_lead_minutes, version, updated_at) "
    "VALUES (:user_id, :muted, :lead, :version, :updated_at) "
    "ON CONFLICT (user_id) DO UPDATE SET muted = EXCLUDED.muted, "
    "reminder_lead_minutes = EXCLUDED.reminder_lead_minutes, version = EXCLUDED.version, "
    "updated_at = EXCLUDED.updated_at WHERE s.version = :expected RETURNING 1"
).bindparams(bindparam("muted", type_=ARRAY(Text())))
_RECIPIENT = text(
    "SELECT s.muted, s.reminder_lead_minutes, s.version, s.updated_at, "
    "ARRAY(SELECT token FROM device WHERE user_id = :user_id "
    "ORDER BY updated_at DESC, id DESC) AS tokens "
    "FROM (SELECT 1) AS one LEFT JOIN notification_settings s ON s.user_id = :user_id"
)


def _device(row: Any) -> Device:
    return Device(
        id=row["id"],
        user_id=row["user_id"],
        token=row["token"],
        platform=Platform(row["platform"]),
        app_version=row["app_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _settings(user_id: UUID, row: Any) -> NotificationSettings:
    if row is None or row["version"] is None:
        return NotificationSettings(user_id)
    known = {k.value for k in NotificationKind}
    return NotificationSettings(
        user_id=user_id,
        muted=frozenset(NotificationKind(k) for k in row["muted"] if k in known),
        reminder_lead_minutes=row["reminder_lead_minutes"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


class SqlDeviceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def register(self, device: Device) -> Device:
        values = {
            "id": device.id,
            "user_id": device.user_id,
            "token": device.token,
            "platform": device.platform.value,
            "app_version": device.app_version,
            "created_at": device.created_at,
            "updated_at": device.updated_at,
        }
        return _device((await self._conn.execute(_REGISTER, values)).mappings().one())

    async def get(self, user_id: UUID, device_id: UUID) -> Device | None:
        found = await self._conn.execute(_GET, {"user_id": user_id, "id": device_id})
        row = found.mappings().one_or_none()
        return None if row is None else _device(row)

    async def list_for(
        self, user_id: UUID, limit: int, after: tuple[datetime, UUID] | None = None
    ) -> list[Device]:
        params: dict[str, Any] = {"user_id": user_id, "limit": limit}
        if after is None:
            rows = await self._conn.execute(_LIST, params)
        else:
            params |= {"created_at": after[0], "id": after[1]}
            rows = await self._conn.execute(_LIST_AFTER, params)
        return [_device(r) for r in rows.mappings()]

    async def remove(self, user_id: UUID, device_id: UUID) -> bool:
        gone = await self._conn.execute(_REMOVE, {"user_id": user_id, "id": device_id})
        return gone.first() is not None

    async def keep_newest(self, user_id: UUID, keep: int) -> int:
        gone = await self._conn.execute(_KEEP_NEWEST, {"user_id": user_id, "keep": keep})
        return int(gone.rowcount)

    async def remove_tokens(self, tokens: Sequence[str]) -> int:
        if not tokens:
            return 0
        gone = await self._conn.execute(_REMOVE_TOKENS, {"tokens": list(tokens)})
        return int(gone.rowcount)


class SqlNotificationSettingsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, user_id: UUID) -> NotificationSettings:
        row = (await self._conn.execute(_SETTINGS, {"user_id": user_id})).mappings().first()
        return _settings(user_id, row)

    async def save(self, settings: NotificationSettings, expected_version: int) -> None:
        values = {
            "user_id": settings.user_id,
            "muted": sorted(k.value for k in settings.muted),
            "lead": settings.reminder_lead_minutes,
            "version": settings.version,
            "updated_at": settings.updated_at,
            "expected": expected_version,
        }
        if (await self._conn.execute(_SAVE_SETTINGS, values)).first() is None:
            raise VersionConflict("The notification settings were changed meanwhile.")

    async def recipient(self, user_id: UUID) -> Recipient:
        row = (await self._conn.execute(_RECIPIENT, {"user_id": user_id})).mappings().one()
        return Recipient(_settings(user_id, row), tuple(row["tokens"]))


# Open tasks whose reminder time has come: those of people with the default lead (or a
# shorter one) from the due-time index over a short range, those of the few people with a
# longer lead through the assignee index; then who has a device, has not muted task_due and
# is still a member. ON CONFLICT: the key keeps concurrent planners from planning twice.
_PLAN = text(
    "INSERT INTO task_reminder (task_id, due_at, user_id, workspace_id, remind_at) "
    "SELECT t.id, t.due_at, t.assignee_id, t.workspace_id, "
    "t.due_at - make_interval(mins => COALESCE(s.reminder_lead_minutes, :default_lead)) "
    "FROM ("
    " SELECT id, due_at, assignee_id, workspace_id FROM task"
    " WHERE done_at IS NULL AND due_at >= :oldest"
    " AND due_at <= :now + make_interval(mins => :default_lead)"
    " UNION"
    " SELECT t.id, t.due_at, t.assignee_id, t.workspace_id FROM notification_settings ls"
    " JOIN member m ON m.user_id = ls.user_id"
    " JOIN task t ON t.workspace_id = m.workspace_id AND t.assignee_id = ls.user_id"
    " WHERE ls.reminder_lead_minutes > :default_lead AND t.done_at IS NULL"
    " AND t.due_at >= :oldest"
    " AND t.due_at <= :now + make_interval(mins => ls.reminder_lead_minutes)"
    ") t LEFT JOIN notification_settings s ON s.user_id = t.assignee_id "
    "WHERE t.assignee_id IS NOT NULL "
    "AND t.due_at - make_interval(mins => COALESCE(s.reminder_lead_minutes, :default_lead))"
    " <= :now "
    "AND NOT (COALESCE(s.muted, '{}') @> ARRAY['task_due']) "
    "AND EXISTS (SELECT 1 FROM device d WHERE d.user_id = t.assignee_id) "
    "AND EXISTS (SELECT 1 FROM member m"
    " WHERE m.workspace_id = t.workspace_id AND m.user_id = t.assignee_id) "
    "ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("oldest", type_=DateTime(timezone=True)),
)
_CLAIM = text(
    "SELECT r.task_id, r.due_at, r.user_id, r.workspace_id, t.title, "
    "(t.done_at IS NULL AND t.due_at = r.due_at AND t.assignee_id = r.user_id) AS current "
    "FROM task_reminder r JOIN task t ON t.id = r.task_id "
    "WHERE r.sent_at IS NULL ORDER BY r.remind_at LIMIT :limit "
    "FOR UPDATE OF r SKIP LOCKED"
)
_MARK = text(
    "UPDATE task_reminder r SET sent_at = :at FROM unnest(:tasks, :dues, :users) "
    "AS k(task_id, due_at, user_id) "
    "WHERE (r.task_id, r.due_at, r.user_id) = (k.task_id, k.due_at, k.user_id)"
).bindparams(
    bindparam("tasks", type_=ARRAY(Uuid())),
    bindparam("dues", type_=ARRAY(DateTime(timezone=True))),
    bindparam("users", type_=ARRAY(Uuid())),
)
_PURGE = text("DELETE FROM task_reminder WHERE due_at < :before")


class SqlReminderRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def plan(self, now: datetime, late: timedelta) -> int:
        params = {"now": now, "oldest": now - late, "default_lead": DEFAULT_LEAD_MINUTES}
        return int((await self._conn.execute(_PLAN, params)).rowcount)

    async def claim(self, limit: int) -> list[DueReminder]:
        rows = await self._conn.execute(_CLAIM, {"limit": limit})
        return [DueReminder(**row) for row in rows.mappings()]

    async def mark_sent(self, reminders: Sequence[DueReminder], at: datetime) -> None:
        if not reminders:
            return
        keys = {
            "tasks": [r.task_id for r in reminders],
            "dues": [r.due_at for r in reminders],
            "users": [r.user_id for r in reminders],
            "at": at,
        }
        await self._conn.execute(_MARK, keys)

    async def purge(self, due_before: datetime) -> int:
        return int((await self._conn.execute(_PURGE, {"before": due_before})).rowcount)
