"""The fields an import can fill per object type, and how a cell's text becomes a value."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from crm.domain.model.company_rules import normalize_domain
from crm.domain.model.custom_fields import FieldType
from crm.domain.model.imports import ImportObject

LIST_SEPARATOR = ";"
CUSTOM = "custom_fields."


class Kind(enum.Enum):
    TEXT = "text"
    LIST = "list"
    UUID = "uuid"
    INTEGER = "integer"


_COMMON = {"owner_id": Kind.UUID, "tags": Kind.LIST}
FIELDS: dict[ImportObject, dict[str, Kind]] = {
    ImportObject.CONTACTS: {
        **dict.fromkeys(
            ("display_name", "first_name", "last_name", "job_title", "company_name"), Kind.TEXT
        ),
        **dict.fromkeys(("lifecycle_stage", "external_id"), Kind.TEXT),
        "emails": Kind.LIST,
        "phones": Kind.LIST,
        **_COMMON,
    },
    ImportObject.COMPANIES: {
        **dict.fromkeys(("name", "domain", "industry", "size_band", "country"), Kind.TEXT),
        "website": Kind.TEXT,
        **{f"address.{p}": Kind.TEXT for p in ("line1", "line2", "city", "region", "postal_code")},
        **_COMMON,
    },
    ImportObject.DEALS: {
        **dict.fromkeys(("name", "currency", "expected_close_date", "external_id"), Kind.TEXT),
        "amount_minor": Kind.INTEGER,
        "pipeline_id": Kind.UUID,
        "stage_id": Kind.UUID,
        **_COMMON,
    },
}
MATCH_ON: dict[ImportObject, dict[str, str]] = {
    ImportObject.CONTACTS: {"email": "emails", "phone": "phones", "external_id": "external_id"},
    ImportObject.COMPANIES: {"domain": "domain"},
    ImportObject.DEALS: {"external_id": "external_id"},
}
"""The natural keys a row may match an existing record on, and the field each reads."""
LIST_FIELDS = frozenset({"emails", "phones", "tags"})
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


class RowRejected(Exception):
    """A cell that cannot be a value of its field (before any record rule runs)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


Convert = Callable[[str], Any]


def split_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _uuid(cell: str) -> UUID:
    try:
        return UUID(cell)
    except ValueError:
        raise RowRejected("invalid_uuid", f"{cell!r} is not a UUID") from None


def _integer(cell: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise RowRejected("invalid_number", f"{cell!r} is not a whole number") from None


def _number(cell: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            continue
    return cell  # the field's own rule says why it is no number


def _boolean(cell: str) -> bool | str:
    lowered = cell.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else cell


CONVERT: dict[Kind, Convert] = {
    Kind.TEXT: str,
    Kind.LIST: split_list,
    Kind.UUID: _uuid,
    Kind.INTEGER: _integer,
}
CUSTOM_CONVERT: dict[FieldType, Convert] = {
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.MULTI_SELECT: split_list,
}


def _key_values(object_type: ImportObject, item: Mapping[str, Any]) -> set[str]:
    """What makes two rows the same record, roughly as the record rules normalize it."""
    if object_type is ImportObject.COMPANIES:
        domain = item.get("domain")
        return {f"d:{normalize_domain(domain) or domain}"} if isinstance(domain, str) else set()
    keys = {f"x:{item['external_id'].strip()}"} if "external_id" in item else set()
    keys |= {f"e:{email.strip().lower()}" for email in item.get("emails", ())}
    keys |= {"p:" + "".join(c for c in phone if c.isdigit()) for phone in item.get("phones", ())}
    return keys


def rounds(object_type: ImportObject, items: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Rows sharing a key (an email, a domain ...) go to successive batches in file order:
    a batch refuses two items for one record, and the later row must see the earlier one."""
    last_round: dict[str, int] = {}
    out: list[list[int]] = []
    for index, item in enumerate(items):
        keys = _key_values(object_type, item)
        at = max((last_round[k] + 1 for k in keys if k in last_round), default=0)
        last_round.update(dict.fromkeys(keys, at))
        if at == len(out):
            out.append([])
        out[at].append(index)
    return out
