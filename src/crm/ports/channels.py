"""Messaging channels: where connected WhatsApp numbers are kept, and the cipher their access
tokens are kept under."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from crm.domain.errors import PortError
from crm.domain.model.channels import WhatsAppChannel
from crm.domain.pagination import Page, PageRequest


class ChannelRepository(Protocol):
    async def add(self, channel: WhatsAppChannel) -> None:
        """Raises PhoneNumberIdTaken when its phone number id is connected anywhere."""

    async def get(self, workspace_id: UUID, channel_id: UUID) -> WhatsAppChannel | None: ...

    async def get_for_update(
        self, workspace_id: UUID, channel_id: UUID
    ) -> WhatsAppChannel | None: ...

    async def by_phone_number_id(self, phone_number_id: str) -> WhatsAppChannel | None:
        """The channel of a phone number id, whichever workspace holds it (inbound events)."""

    async def save(self, channel: WhatsAppChannel, expected_version: int) -> None:
        """Raises VersionConflict when the stored version is not `expected_version`."""

    async def remove(self, channel: WhatsAppChannel) -> None: ...

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[WhatsAppChannel]:
        """Oldest connection first."""


class TokenUnreadable(PortError):
    """A stored token cannot be decrypted with any configured key (a key was dropped)."""


class TokenCipher(Protocol):
    """Encrypts secrets kept for a third party (authenticated encryption); decrypts with any
    of the configured keys, so keys can be rotated."""

    def encrypt(self, plain: str) -> str: ...

    def decrypt(self, token: str) -> str: ...
