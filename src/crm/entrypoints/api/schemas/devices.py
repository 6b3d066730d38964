"""Device and notification settings schemas (the public contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm.domain.model.push import MAX_APP_VERSION, MAX_LEAD_MINUTES, MAX_TOKEN

PlatformName = Literal["ios", "android", "web"]
Kind = Literal["task_due", "task_assigned", "deal_owner_changed"]
Lead = Annotated[int, Field(ge=0, le=MAX_LEAD_MINUTES)]
_REGISTRATION = "The FCM registration token the app got from Firebase Messaging"
_KINDS = (
    "Kinds of notification not to send: `task_due` (reminders before a task assigned to you "
    "is due), `task_assigned` (someone gave you a task), `deal_owner_changed` (someone made "
    "you a deal's owner)"
)
_LEAD = "How many minutes before a task's due time its reminder comes (0 to 10080: a week)"


class DeviceRegistration(BaseModel):
    """A device to send push notifications to: registering a token again updates it; a
    token another person registered moves to you."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"token": "fcm-token-from-the-app", "platform": "ios", "app_version": "2.4.1"}
            ]
        },
    )

    token: str = Field(min_length=1, max_length=MAX_TOKEN, description=_REGISTRATION)
    platform: PlatformName
    app_version: str | None = Field(None, max_length=MAX_APP_VERSION)


class Device(BaseModel):
    """One of your devices (an app install that receives your push notifications)."""

    id: UUID
    token: str = Field(description=_REGISTRATION)
    platform: PlatformName
    app_version: str | None
    created_at: datetime = Field(description="When you registered it (this token) first")
    updated_at: datetime = Field(description="When you registered it last")


class DevicePage(BaseModel):
    data: list[Device]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class NotificationSettings(BaseModel):
    """Your push notification choices, the same in every workspace."""

    muted: list[Kind] = Field(description=_KINDS)
    reminder_lead_minutes: int = Field(description=_LEAD)
    version: int = Field(description="Increases on every change; send it back in If-Match")
    updated_at: datetime | None = Field(description="Last change; null while on the defaults")


class NotificationSettingsUpdate(BaseModel):
    """Partial update: fields left out are unchanged; `null` restores the default (nothing
    muted, 15 minutes)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"muted": ["deal_owner_changed"], "reminder_lead_minutes": 30}]
        },
    )

    muted: list[Kind] | None = Field(None, max_length=16, description=_KINDS)
    reminder_lead_minutes: Lead | None = Field(None, description=_LEAD)
