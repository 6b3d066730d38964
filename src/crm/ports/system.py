"""Time, identity and phone-number parsing: small ports so the core stays deterministic."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class IdGenerator(Protocol):
    def new_id(self) -> UUID:
        """A new time-ordered UUID (version 7)."""


class PhoneNumbers(Protocol):
    def to_e164(self, raw: str) -> str | None:
        """The number in E.164 form, or None when it is not a valid phone number."""
