"""What a search may filter and sort on: a catalogue of fields per object type.

Each field has a kind; the kind decides which operators apply and what a value must be.
Custom fields are typed by their definition (`custom_fields.<key>`); fields of associated
records are the built-in fields of the other object (`company.industry`, `contact.email`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crm.domain.model.company_rules import SizeBand
from crm.domain.model.contact_rules import LifecycleStage
from crm.domain.model.custom_fields import FieldType, ObjectType
from crm.domain.model.pipeline import StageKind


class Operator(enum.StrEnum):
    EQ = "eq"
    NEQ = "neq"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    IS_NULL = "is_null"


class Kind(enum.StrEnum):
    TEXT = "text"
    TEXT_LIST = "text_list"
    """Emails, phones: a condition holds when it holds for any of them."""
    ENUM = "enum"
    UUID = "uuid"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    SET = "set"
    """Tags, multi_select values: eq carries it, in any of, not_in none of, contains all of."""


class Normal(enum.StrEnum):
    """How a value is normalized before comparing, like writes store it."""

    NONE = "none"
    EMAIL = "email"
    PHONE = "phone"
    DOMAIN = "domain"
    UPPER = "upper"
    TAG = "tag"


Op = Operator
_EQUALITY = frozenset({Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN, Op.IS_NULL})
_ORDERED = _EQUALITY | {Op.LT, Op.LTE, Op.GT, Op.GTE}
_TEXTUAL = _EQUALITY | {Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH}
OPERATORS: dict[Kind, frozenset[Operator]] = {
    Kind.TEXT: _TEXTUAL,
    Kind.TEXT_LIST: _TEXTUAL,
    Kind.ENUM: _EQUALITY,
    Kind.UUID: _EQUALITY,
    Kind.NUMBER: _ORDERED,
    Kind.DATE: _ORDERED,
    Kind.DATETIME: _ORDERED,
    Kind.BOOLEAN: frozenset({Op.EQ, Op.NEQ, Op.IS_NULL}),
    Kind.SET: _EQUALITY | {Op.CONTAINS},
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    normal: Normal = Normal.NONE
    choices: tuple[str, ...] = ()


def _enum(kind: type[enum.StrEnum]) -> FieldSpec:
    return FieldSpec(Kind.ENUM, choices=tuple(str(v) for v in kind))


_TEXT = FieldSpec(Kind.TEXT)
_UUID = FieldSpec(Kind.UUID)
_TIME = FieldSpec(Kind.DATETIME)
_TAGS = FieldSpec(Kind.SET, Normal.TAG)
_COMMON = {"owner_id": _UUID, "tags": _TAGS, "created_at": _TIME, "updated_at": _TIME}

FIELDS: dict[ObjectType, dict[str, FieldSpec]] = {
    ObjectType.CONTACT: {
        "first_name": _TEXT,
        "last_name": _TEXT,
        "display_name": _TEXT,
        "email": FieldSpec(Kind.TEXT_LIST, Normal.EMAIL),
        "phone": FieldSpec(Kind.TEXT_LIST, Normal.PHONE),
        "job_title": _TEXT,
        "company_name": _TEXT,
        "lifecycle_stage": _enum(LifecycleStage),
        "external_id": _TEXT,
        **_COMMON,
    },
    ObjectType.COMPANY: {
        "name": _TEXT,
        "domain": FieldSpec(Kind.TEXT, Normal.DOMAIN),
        "industry": _TEXT,
        "size_band": _enum(SizeBand),
        "country": FieldSpec(Kind.TEXT, Normal.UPPER),
        **_COMMON,
    },
    ObjectType.DEAL: {
        "name": _TEXT,
        "amount_minor": FieldSpec(Kind.NUMBER),
        "currency": FieldSpec(Kind.TEXT, Normal.UPPER),
        "status": _enum(StageKind),
        "pipeline_id": _UUID,
        "stage_id": _UUID,
        "expected_close_date": FieldSpec(Kind.DATE),
        "closed_at": _TIME,
        **_COMMON,
    },
}

# The records whose fields a search may reach through links (`company.industry` ...).
ASSOCIATIONS: dict[ObjectType, tuple[ObjectType, ...]] = {
    ObjectType.CONTACT: (ObjectType.COMPANY,),
    ObjectType.COMPANY: (ObjectType.CONTACT,),
    ObjectType.DEAL: (ObjectType.CONTACT, ObjectType.COMPANY),
}

# Sortable fields (each ascending or, with `-`, descending; ties by id; empty values last).
SORTS: dict[ObjectType, tuple[str, ...]] = {
    ObjectType.CONTACT: ("created_at", "updated_at", "last_name", "first_name"),
    ObjectType.COMPANY: ("created_at", "updated_at", "name"),
    ObjectType.DEAL: (
        "created_at",
        "updated_at",
        "name",
        "amount_minor",
        "expected_close_date",
        "closed_at",
    ),
}

CUSTOM_KINDS: dict[FieldType, FieldSpec] = {
    FieldType.TEXT: _TEXT,
    FieldType.URL: _TEXT,
    FieldType.EMAIL: FieldSpec(Kind.TEXT, Normal.EMAIL),
    FieldType.PHONE: FieldSpec(Kind.TEXT, Normal.PHONE),
    FieldType.SINGLE_SELECT: FieldSpec(Kind.ENUM),
    FieldType.NUMBER: FieldSpec(Kind.NUMBER),
    FieldType.BOOLEAN: FieldSpec(Kind.BOOLEAN),
    FieldType.DATE: FieldSpec(Kind.DATE),
    FieldType.DATETIME: _TIME,
    FieldType.MULTI_SELECT: FieldSpec(Kind.SET),
}

CUSTOM_PREFIX = "custom_fields."
# The order of a search with `q` and no sort asked: closest first (pg_trgm word similarity).
RELEVANCE = "relevance"
RELATION_NAMES = {ObjectType.CONTACT: "contact", ObjectType.COMPANY: "company"}

# Limits, documented on the operations.
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_VALUES = 100
MAX_TEXT = 200
MAX_Q = 200
EXPORT_CHUNK = 1000
