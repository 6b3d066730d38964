"""A person's devices and notification settings: theirs alone, across their workspaces.

Only signed-in people have them (an API key is no one to notify), so these use cases take the
`Person`, never a workspace principal; one person never sees or touches another's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.permissions import Person
from crm.domain.model.push import (
    MAX_DEVICES,
    Device,
    DeviceNotFound,
    NotificationSettings,
    Platform,
    parse_app_version,
    parse_token,
)
from crm.domain.pagination import Page, PageRequest, Position
from crm.domain.use_cases._shared import check_version
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class RegisterDeviceCommand:
    person: Person
    token: str
    platform: str
    app_version: str | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    device: Device
    created: bool
    """False when the caller had already registered this token (it was updated)."""


class RegisterDevice:
    """Register an FCM registration token for the caller (upsert by token): registering it
    again updates its platform and app version; a token another person held moves to the
    caller. A person keeps their 20 most recently registered devices."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: RegisterDeviceCommand) -> Registered:
        now = self._clock.now()
        device = Device(
            id=self._ids.new_id(),
            user_id=cmd.person.user_id,
            token=parse_token(cmd.token),
            platform=_platform(cmd.platform),
            app_version=parse_app_version(cmd.app_version),
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            stored = await uow.devices.register(device)
            await uow.devices.keep_newest(device.user_id, MAX_DEVICES)
            await uow.commit()
        return Registered(stored, created=stored.id == device.id)


class ListMyDevices:
    """The caller's devices, oldest registration first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, person: Person, page: PageRequest) -> Page[Device]:
        after = None if page.after is None else (page.after.created_at, page.after.id)
        async with self._uow() as uow:
            found = await uow.devices.list_for(person.user_id, page.limit + 1, after)
        items = found[: page.limit]
        last = items[-1] if len(found) > page.limit else None
        return Page(items, None if last is None else Position(last.created_at, last.id))


class GetDevice:
    """One of the caller's devices; another person's is not found."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, person: Person, device_id: UUID) -> Device:
        async with self._uow() as uow:
            found = await uow.devices.get(person.user_id, device_id)
        if found is None:
            raise DeviceNotFound(f"You have no device {device_id}.")
        return found


class DeleteDevice:
    """Forget one of the caller's devices (sign-out on that phone); another person's device
    is not found."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, person: Person, device_id: UUID) -> None:
        async with self._uow() as uow:
            if not await uow.devices.remove(person.user_id, device_id):
                raise DeviceNotFound(f"You have no device {device_id}.")
            await uow.commit()


class GetNotificationSettings:
    """The caller's notification settings (defaults until changed)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, person: Person) -> NotificationSettings:
        async with self._uow() as uow:
            return await uow.notification_settings.get(person.user_id)


class UpdateNotificationSettings:
    """Change the caller's notification settings: `muted` (the kinds not to be notified of)
    and `reminder_lead_minutes` (how long before a task's due time its reminder comes);
    null restores the default. A stale If-Match fails."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(
        self, person: Person, changes: Mapping[str, Any], if_match: int | None = None
    ) -> NotificationSettings:
        async with self._uow() as uow:
            current = await uow.notification_settings.get(person.user_id)
            check_version("notification settings", if_match, current.version)
            changed = current.change(dict(changes), self._clock.now())
            if changed is not current:
                await uow.notification_settings.save(changed, current.version)
                await uow.commit()
        return changed


def _platform(value: str) -> Platform:
    try:
        return Platform(value)
    except ValueError as e:
        raise InvalidInput(
            "Invalid platform.",
            errors=(FieldError("/platform", "invalid_platform", "ios, android or web"),),
        ) from e


@dataclass(frozen=True, slots=True)
class DeviceUseCases:
    register: RegisterDevice
    list_mine: ListMyDevices
    get: GetDevice
    delete: DeleteDevice
    get_settings: GetNotificationSettings
    update_settings: UpdateNotificationSettings

    @classmethod
    def build(cls, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> DeviceUseCases:
        return cls(
            register=RegisterDevice(uow, clock, ids),
            list_mine=ListMyDevices(uow),
            get=GetDevice(uow),
            delete=DeleteDevice(uow),
            get_settings=GetNotificationSettings(uow),
            update_settings=UpdateNotificationSettings(uow, clock),
        )
