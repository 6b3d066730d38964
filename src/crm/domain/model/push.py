"""Push notifications: the devices a person receives them on, what they muted, and the
messages sent to them.

A device is a Firebase Cloud Messaging registration token of one app install. It belongs to
one person (whoever registered it last), across all their workspaces: a notification names
its workspace in its data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput, NotFound

MAX_TOKEN = 4096
MAX_APP_VERSION = 64
MAX_DEVICES = 20
"""Per person; registering one more drops the one registered longest ago."""
DEFAULT_LEAD_MINUTES = 15
MAX_LEAD_MINUTES = 7 * 24 * 60
MAX_TITLE = 100
MAX_BODY = 240


class Platform(enum.StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class NotificationKind(enum.StrEnum):
    """What a notification is about; each can be muted on its own."""

    TASK_DUE = "task_due"
    TASK_ASSIGNED = "task_assigned"
    DEAL_OWNER_CHANGED = "deal_owner_changed"
    CHAT_MESSAGE = "chat_message"
    """A customer wrote in a chat assigned to me."""


class DeviceNotFound(NotFound):
    code = "device_not_found"
    title = "Device not found"


def _invalid(pointer: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(f"Invalid {pointer[1:]}.", errors=(FieldError(pointer, code, message),))


def parse_token(value: Any) -> str:
    token = value.strip() if isinstance(value, str) else ""
    if not token or len(token) > MAX_TOKEN or any(c.isspace() for c in token):
        raise _invalid("/token", "invalid_token", f"1 to {MAX_TOKEN} characters, no spaces")
    return token


def parse_app_version(value: Any) -> str | None:
    if value is None:
        return None
    version = value.strip() if isinstance(value, str) else None
    if version is None or len(version) > MAX_APP_VERSION:
        raise _invalid("/app_version", "invalid_app_version", f"at most {MAX_APP_VERSION} chars")
    return version or None


def parse_lead(value: Any) -> int:
    if value is None:
        return DEFAULT_LEAD_MINUTES
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("/reminder_lead_minutes", "invalid_lead", "whole minutes")
    if not 0 <= value <= MAX_LEAD_MINUTES:
        raise _invalid("/reminder_lead_minutes", "invalid_lead", f"0 to {MAX_LEAD_MINUTES}")
    return value


def parse_muted(value: Any) -> frozenset[NotificationKind]:
    if value is None:
        return frozenset()
    try:
        return frozenset(NotificationKind(v) for v in value)
    except (TypeError, ValueError) as e:
        kinds = ", ".join(NotificationKind)
        raise _invalid("/muted", "invalid_kind", f"each one of {kinds}") from e


@dataclass(frozen=True, slots=True)
class Device:
    id: UUID
    user_id: UUID
    token: str
    platform: Platform
    app_version: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """A person's choices; a person who never changed them has the defaults, at version 1."""

    user_id: UUID
    muted: frozenset[NotificationKind] = frozenset()
    reminder_lead_minutes: int = DEFAULT_LEAD_MINUTES
    version: int = 1
    updated_at: datetime | None = None

    def mutes(self, kind: NotificationKind) -> bool:
        return kind in self.muted

    def change(self, changes: dict[str, Any], now: datetime) -> NotificationSettings:
        """With the fields in `changes` (`muted`, `reminder_lead_minutes`; null means the
        default); the same settings when nothing changes."""
        muted = parse_muted(changes["muted"]) if "muted" in changes else self.muted
        lead = self.reminder_lead_minutes
        if "reminder_lead_minutes" in changes:
            lead = parse_lead(changes["reminder_lead_minutes"])
        if (muted, lead) == (self.muted, self.reminder_lead_minutes):
            return self
        return replace(
            self, muted=muted, reminder_lead_minutes=lead, version=self.version + 1, updated_at=now
        )


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One notification: what the phone shows, and `data` for the app (all strings: FCM's
    rule), always with `kind` and `workspace_id`."""

    kind: NotificationKind
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    tag: str | None = None
    """Notifications with the same tag replace each other on the device (same record)."""

    @classmethod
    def of(
        cls, kind: NotificationKind, title: str, body: str, about: UUID, **data: object
    ) -> PushMessage:
        values = {k: str(v) for k, v in data.items() if v is not None}
        tag = f"{kind}:{about}"
        return cls(
            kind,
            _clip(title, MAX_TITLE),
            _clip(body, MAX_BODY),
            {"kind": kind.value, **values},
            tag,
        )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What became of one send: how many devices took it, which tokens are dead for good
    (uninstalled, invalid: prune them), which could not be reached this time."""

    delivered: int = 0
    dead: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person about to be notified: their settings and their devices' tokens."""

    settings: NotificationSettings
    tokens: tuple[str, ...]

    def wants(self, kind: NotificationKind) -> bool:
        return bool(self.tokens) and not self.settings.mutes(kind)


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A task reminder claimed for sending: the task as it is now and whether it still
    stands (open, same due time, same assignee)."""

    task_id: UUID
    due_at: datetime
    user_id: UUID
    workspace_id: UUID
    title: str
    current: bool


@dataclass(slots=True)
class TaskReminder:
    """A planned reminder: due for sending from `remind_at`, sent once (`sent_at`)."""

    task_id: UUID
    due_at: datetime
    user_id: UUID
    workspace_id: UUID
    remind_at: datetime
    sent_at: datetime | None = None
