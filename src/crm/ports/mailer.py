"""Sending transactional email (Mailchimp Transactional in production)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    to_name: str | None = None
    tags: tuple[str, ...] = ()


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Hand `message` to the provider and return the provider's message id. Raises
        DeliveryRejected when the provider refuses it for good (retrying will not help) and
        ServiceUnavailable when it cannot be reached or fails transiently."""
