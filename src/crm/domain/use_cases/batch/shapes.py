"""JSON shapes of batch items: a batch takes raw mappings (JSON bodies, CSV rows), so each
field's JSON type is checked here, per item, before the field rules see it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.text import nul_paths, pointer


class WrongShape(ValueError):
    pass


def _text(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise WrongShape("a string or null")
    return value


def _texts(value: Any) -> Any:
    if value is not None and not (
        isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    ):
        raise WrongShape("a list of strings")
    return value


def _object(value: Any) -> Any:
    if value is not None and not isinstance(value, Mapping):
        raise WrongShape("an object")
    return value


def _integer(value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise WrongShape("an integer or null")
    return value


def _uuid(value: Any) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if isinstance(value, str) else _fail()
    except ValueError:
        raise WrongShape("a UUID") from None


def _fail() -> UUID:
    raise WrongShape("a UUID")


TEXT, TEXTS, OBJECT, INTEGER, ID = _text, _texts, _object, _integer, _uuid
Shape = Callable[[Any], Any]

CONTACT: dict[str, Shape] = {
    **dict.fromkeys(("display_name", "first_name", "last_name", "job_title", "company_name"), TEXT),
    **dict.fromkeys(("lifecycle_stage", "external_id"), TEXT),
    **dict.fromkeys(("emails", "phones", "tags"), TEXTS),
    "owner_id": ID,
    "custom_fields": OBJECT,
}
COMPANY: dict[str, Shape] = {
    **dict.fromkeys(("name", "domain", "industry", "size_band", "country", "website"), TEXT),
    "address": OBJECT,
    "owner_id": ID,
    "tags": TEXTS,
    "custom_fields": OBJECT,
}
DEAL: dict[str, Shape] = {
    **dict.fromkeys(("name", "currency", "expected_close_date", "external_id"), TEXT),
    "amount_minor": INTEGER,
    **dict.fromkeys(("owner_id", "pipeline_id", "stage_id"), ID),
    "tags": TEXTS,
    "custom_fields": OBJECT,
}
UPDATE_KEYS: dict[str, Shape] = {"id": ID, "if_match": INTEGER}


def check(raw: Any, shapes: Mapping[str, Shape]) -> dict[str, Any]:
    """The item's fields with ids as UUIDs; every field of the wrong JSON type, and every
    string or key holding a NUL (which the database cannot store), is reported (unknown
    fields pass through: the field rules name them)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            "A batch item is a JSON object.",
            errors=(FieldError("", "wrong_type", "an object"),),
        )
    values: dict[str, Any] = {}
    errors = [
        FieldError(pointer(path), "invalid_character", "NUL characters are not allowed")
        for path in nul_paths(raw)
    ]
    for name, value in raw.items():
        shape = shapes.get(name)
        try:
            values[name] = value if shape is None else shape(value)
        except WrongShape as wrong:
            errors.append(FieldError(f"/{name}", "wrong_type", str(wrong)))
    if errors:
        raise InvalidInput("Some fields have the wrong type or a NUL.", errors=tuple(errors))
    return values
