"""Messaging channels: a WhatsApp Business phone number connected to a workspace.

The Cloud API names a number by its phone number id (Meta's, digits); each id belongs to one
workspace, so an inbound event finds its workspace by it. The access token the service sends
replies with is kept encrypted (a `TokenCipher`); the domain holds only the ciphertext and
the token's last four characters, which is all the API ever shows of it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import Conflict, FieldError, InvalidInput, NotFound

_PHONE_NUMBER_ID = re.compile(r"[0-9]{1,32}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")
_TOKEN = re.compile(r"[\x21-\x7e]{16,4096}")
MAX_NAME = 200


class ChannelNotFound(NotFound):
    code = "channel_not_found"
    title = "Channel not found"


class PhoneNumberIdTaken(Conflict):
    """The phone number id is connected already (here or in another workspace): Meta sends
    its events to one place, so it can belong to one workspace only."""

    code = "whatsapp_number_connected"
    title = "This WhatsApp phone number is connected already"

    @classmethod
    def of(cls, phone_number_id: str) -> PhoneNumberIdTaken:
        return cls(
            f"WhatsApp phone number id {phone_number_id} is connected already, here or in "
            "another workspace. Disconnect it there first."
        )


@dataclass(slots=True)
class WhatsAppChannel:
    id: UUID
    workspace_id: UUID
    phone_number_id: str
    display_phone_number: str
    name: str | None
    access_token_encrypted: str
    access_token_last4: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    create_contacts: bool = False
    """A message from a number no contact has creates a contact (else the chat stays unlinked)."""

    def change(self, values: Mapping[str, Any], now: datetime) -> WhatsAppChannel:
        """A copy with `values` (parsed by `parse_channel`) applied, or self if none differs."""
        current = {k: getattr(self, k) for k in values}
        if current == dict(values):
            return self
        return dataclasses.replace(self, **values, updated_at=now, version=self.version + 1)


def parse_channel(raw: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The fields of a connect (`creating`) or change request, checked; the access token
    stays plain here (`access_token`), the use case encrypts it. Only `name` may be null (to
    remove it); the others are required to connect and cannot be removed."""
    settable = _PARSERS if creating else {k: v for k, v in _PARSERS.items() if k in _CHANGEABLE}
    errors = [
        FieldError(f"/{key}", "unknown_field", "not a field you can set")
        for key in raw
        if key not in settable
    ]
    values: dict[str, Any] = {}
    for key, parse in settable.items():
        if key not in raw:
            if creating and key not in _OPTIONAL:
                errors.append(FieldError(f"/{key}", "required", "required"))
            continue
        value = raw[key]
        if value is None and key == "name":
            values[key] = None
            continue
        parsed = None if value is None else parse(value)
        if parsed is None:
            errors.append(FieldError(f"/{key}", *_WHY[key]))
        else:
            values[key] = parsed
    if errors:
        raise InvalidInput("Invalid WhatsApp channel.", errors=tuple(errors))
    return values


def _phone_number_id(value: Any) -> str | None:
    ok = isinstance(value, str) and _PHONE_NUMBER_ID.fullmatch(value)
    return value if ok else None


def _name(value: Any) -> str | None:
    ok = isinstance(value, str) and 0 < len(value.strip()) <= MAX_NAME
    return value.strip() if ok else None


def _token(value: Any) -> str | None:
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def display_number(raw: Any) -> str | None:
    """`raw` as E.164 (`+` and digits), accepting the punctuation people write
    (`+1 555-078-3881`) and Meta's form without the plus (`15550783881`, at least 8 digits so
    a local number is not taken for an international one); None otherwise. Not checked
    against numbering plans: Meta's test numbers (+1 555 ...) are fictional by design."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    digits = _PHONE_PUNCTUATION.sub("", raw)
    if not digits.startswith("+"):
        if len(digits) < 8:
            return None
        digits = "+" + digits
    return digits if _E164.fullmatch(digits) else None


def last4(token: str) -> str:
    return token[-4:]


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


_PARSERS: dict[str, Callable[[Any], object | None]] = {
    "phone_number_id": _phone_number_id,
    "display_phone_number": display_number,
    "name": _name,
    "access_token": _token,
    "create_contacts": _flag,
}
_OPTIONAL = frozenset({"name", "create_contacts"})
_CHANGEABLE = frozenset({"display_phone_number", "name", "access_token", "create_contacts"})
_WHY = {
    "phone_number_id": ("invalid_phone_number_id", "1 to 32 digits (Meta's phone number id)"),
    "display_phone_number": ("invalid_phone", "an international number, e.g. +15550783881"),
    "name": ("invalid_name", f"1 to {MAX_NAME} characters"),
    "access_token": ("invalid_access_token", "16 to 4096 visible ASCII characters, no spaces"),
    "create_contacts": ("invalid_boolean", "true or false"),
}
