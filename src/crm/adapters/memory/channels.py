"""Connected WhatsApp numbers in memory."""

from __future__ import annotations

import copy
from dataclasses import replace
from uuid import UUID

from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.state import MemoryState
from crm.domain.errors import VersionConflict
from crm.domain.model.channels import PhoneNumberIdTaken, WhatsAppChannel
from crm.domain.pagination import Page, PageRequest, SortOrder


class InMemoryChannelRepository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, channel: WhatsAppChannel) -> None:
        if await self.by_phone_number_id(channel.phone_number_id) is not None:
            raise PhoneNumberIdTaken.of(channel.phone_number_id)
        self._s.whatsapp_channels[channel.id] = copy.deepcopy(channel)

    async def get(self, workspace_id: UUID, channel_id: UUID) -> WhatsAppChannel | None:
        found = self._s.whatsapp_channels.get(channel_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return copy.deepcopy(found)

    async def get_for_update(self, workspace_id: UUID, channel_id: UUID) -> WhatsAppChannel | None:
        return await self.get(workspace_id, channel_id)

    async def by_phone_number_id(self, phone_number_id: str) -> WhatsAppChannel | None:
        for channel in self._s.whatsapp_channels.values():
            if channel.phone_number_id == phone_number_id:
                return copy.deepcopy(channel)
        return None

    async def save(self, channel: WhatsAppChannel, expected_version: int) -> None:
        stored = self._s.whatsapp_channels.get(channel.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflict("The channel changed meanwhile.")
        self._s.whatsapp_channels[channel.id] = copy.deepcopy(channel)

    async def remove(self, channel: WhatsAppChannel) -> None:
        self._s.whatsapp_channels.pop(channel.id, None)

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[WhatsAppChannel]:
        mine = [c for c in self._s.whatsapp_channels.values() if c.workspace_id == workspace_id]
        oldest_first = replace(page, order=SortOrder.OLDEST_FIRST)
        found = keyset_page(mine, lambda c: (c.created_at, c.id), oldest_first)
        return Page([copy.deepcopy(c) for c in found.items], found.next)
