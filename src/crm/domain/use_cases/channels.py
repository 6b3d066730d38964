"""WhatsApp channels: owners and admins (and `admin` keys) connect a WhatsApp Business phone
number to the workspace, change its display number, name or access token, and disconnect it.
The access token is encrypted before it is stored and never shown again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.domain.model.channels import ChannelNotFound, WhatsAppChannel, last4, parse_channel
from crm.domain.model.permissions import Action, Principal
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_version
from crm.ports.channels import TokenCipher, TokenUnreadable
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


def not_found(channel_id: UUID) -> ChannelNotFound:
    return ChannelNotFound(f"No WhatsApp channel {channel_id} here.")


async def _for_change(
    uow: UnitOfWork, principal: Principal, channel_id: UUID, if_match: int | None
) -> WhatsAppChannel:
    found = await uow.channels.get_for_update(principal.workspace_id, channel_id)
    if found is None:
        raise not_found(channel_id)
    check_version("channel", if_match, found.version)
    return found


def _sealed(values: dict[str, Any], cipher: TokenCipher) -> dict[str, Any]:
    """`values` with a plain `access_token` replaced by its ciphertext and last four."""
    token = values.pop("access_token", None)
    if token is not None:
        values["access_token_encrypted"] = cipher.encrypt(token)
        values["access_token_last4"] = last4(token)
    return values


class ConnectWhatsAppChannel:
    """Connect a WhatsApp Business phone number (its Cloud API phone number id, the number as
    displayed, and an access token that may send messages from it). A phone number id belongs
    to one workspace: connecting one connected anywhere is a 409. The token is stored
    encrypted and never returned; answers show its last four characters."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, cipher: TokenCipher
    ) -> None:
        self._uow, self._clock, self._ids, self._cipher = uow, clock, ids, cipher

    async def execute(self, principal: Principal, raw: Mapping[str, Any]) -> WhatsAppChannel:
        principal.require(Action.MANAGE_CHANNELS)
        values = _sealed(parse_channel(raw, creating=True), self._cipher)
        now = self._clock.now()
        channel = WhatsAppChannel(
            id=self._ids.new_id(),
            workspace_id=principal.workspace_id,
            phone_number_id=values["phone_number_id"],
            display_phone_number=values["display_phone_number"],
            name=values.get("name"),
            access_token_encrypted=values["access_token_encrypted"],
            access_token_last4=values["access_token_last4"],
            created_at=now,
            updated_at=now,
            create_contacts=values.get("create_contacts", False),
        )
        async with self._uow() as uow:
            await uow.channels.add(channel)
            await uow.commit()
        return channel


class ListWhatsAppChannels:
    """The workspace's connected WhatsApp numbers, oldest connection first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, page: PageRequest) -> Page[WhatsAppChannel]:
        principal.require(Action.MANAGE_CHANNELS)
        async with self._uow() as uow:
            return await uow.channels.list(principal.workspace_id, page)


class GetWhatsAppChannel:
    """One connected WhatsApp number (its access token never: only the last four)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, channel_id: UUID) -> WhatsAppChannel:
        principal.require(Action.MANAGE_CHANNELS)
        async with self._uow() as uow:
            found = await uow.channels.get(principal.workspace_id, channel_id)
        if found is None:
            raise not_found(channel_id)
        return found


@dataclass(frozen=True, slots=True)
class UpdateWhatsAppChannelCommand:
    principal: Principal
    channel_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


class UpdateWhatsAppChannel:
    """Change the displayed number or the name, or replace the access token (Meta's tokens
    expire or are revoked); the phone number id is fixed: disconnect and connect another."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, cipher: TokenCipher) -> None:
        self._uow, self._clock, self._cipher = uow, clock, cipher

    async def execute(self, cmd: UpdateWhatsAppChannelCommand) -> WhatsAppChannel:
        cmd.principal.require(Action.MANAGE_CHANNELS)
        values = parse_channel(cmd.changes, creating=False)
        async with self._uow() as uow:
            found = await _for_change(uow, cmd.principal, cmd.channel_id, cmd.if_match)
            if "access_token" in values and self._holds(found, values["access_token"]):
                del values["access_token"]  # the same token again: nothing changes
            changed = found.change(_sealed(values, self._cipher), self._clock.now())
            if changed is not found:
                await uow.channels.save(changed, expected_version=found.version)
                await uow.commit()
        return changed

    def _holds(self, channel: WhatsAppChannel, token: str) -> bool:
        try:
            return self._cipher.decrypt(channel.access_token_encrypted) == token
        except TokenUnreadable:  # under a key no longer configured: store it anew
            return False


class DisconnectWhatsAppChannel:
    """Disconnect a WhatsApp number: its events are no longer taken and its token is
    forgotten. The phone number id can then be connected again, here or elsewhere."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(
        self, principal: Principal, channel_id: UUID, if_match: int | None = None
    ) -> None:
        principal.require(Action.MANAGE_CHANNELS)
        async with self._uow() as uow:
            found = await _for_change(uow, principal, channel_id, if_match)
            await uow.channels.remove(found)
            await uow.commit()


@dataclass(frozen=True, slots=True)
class ChannelUseCases:
    connect: ConnectWhatsAppChannel
    list: ListWhatsAppChannels
    get: GetWhatsAppChannel
    update: UpdateWhatsAppChannel
    disconnect: DisconnectWhatsAppChannel

    @classmethod
    def build(
        cls, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, cipher: TokenCipher
    ) -> ChannelUseCases:
        return cls(
            connect=ConnectWhatsAppChannel(uow, clock, ids, cipher),
            list=ListWhatsAppChannels(uow),
            get=GetWhatsAppChannel(uow),
            update=UpdateWhatsAppChannel(uow, clock, cipher),
            disconnect=DisconnectWhatsAppChannel(uow),
        )
