"""JSON-ready views of domain values, for event payloads (the outbox stores JSON)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.model.changes import FieldChange
from crm.domain.model.contact import Contact

_CONTACT_FIELDS = Contact.__dataclass_fields__


def jsonable(value: Any) -> Any:
    if isinstance(value, UUID | enum.Enum):
        return value.value if isinstance(value, enum.Enum) else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def contact_snapshot(contact: Contact) -> dict[str, Any]:
    return {name: jsonable(getattr(contact, name)) for name in _CONTACT_FIELDS}


def changes_payload(changes: Mapping[str, FieldChange]) -> dict[str, Any]:
    return {
        "changes": {
            name: {"old": jsonable(c.old), "new": jsonable(c.new)} for name, c in changes.items()
        }
    }
