"""Custom field definitions and the tag catalogue: request and response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.custom_fields import (
    MAX_LABEL,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    FieldType,
    ObjectType,
)

_CURSOR = "Pass as `cursor` for the next page; null at the end"
_KEY = (
    "snake_case (a-z first, then a-z, 0-9, _; at most 64), unique per object type; the key "
    "under which records carry the value in `custom_fields`. Cannot change."
)
_TYPE = (
    "What values look like: text (string up to 10,000 characters), number (finite integer or "
    "decimal), boolean, date (`YYYY-MM-DD`), datetime (RFC 3339 with an offset; stored in UTC "
    "with `Z`), url (http or https), email (stored lower case), phone (international format; "
    "stored as E.164), single_select (one option `value`), multi_select (a list of distinct "
    "option values). Cannot change."
)
_OPTIONS = (
    "The choices of a select field (required for single_select and multi_select, refused for "
    "other types). Replacing the options is allowed even if records use a removed option: "
    "their stored values stay as they are and readable, but new writes must name a current "
    "option."
)
_ARCHIVED = (
    "Archived fields keep their stored values but hide them on every read, and writing a "
    "value for them is refused (`field_archived`). Set `archived` back to false to show the "
    "values again."
)


def _input(example: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL)]


class SelectOption(BaseModel):
    model_config = _input({"value": "enterprise", "label": "Enterprise"})
    value: Annotated[str, Field(min_length=1, max_length=MAX_OPTION_VALUE)] = Field(
        description="What records store"
    )
    label: Label | None = Field(None, description="What people see; defaults to the value")


class SelectOptionOut(BaseModel):
    value: str
    label: str


Options = Annotated[list[SelectOption], Field(max_length=MAX_OPTIONS, description=_OPTIONS)]


class CustomFieldCreate(BaseModel):
    """A new field for contacts, companies or deals."""

    model_config = _input(
        {
            "object_type": "contact",
            "key": "plan",
            "label": "Plan",
            "field_type": "single_select",
            "options": [
                {"value": "free", "label": "Free"},
                {"value": "enterprise", "label": "Enterprise"},
            ],
        }
    )
    object_type: ObjectType
    key: Annotated[str, Field(min_length=1, max_length=64, description=_KEY)]
    label: Label
    field_type: FieldType = Field(description=_TYPE)
    options: Options | None = None


class CustomFieldUpdate(BaseModel):
    """Partial update: relabel, replace the options, archive or unarchive."""

    model_config = _input({"label": "Pricing plan", "archived": False})
    label: Label | None = None
    options: Options | None = None
    archived: bool | None = Field(None, description=_ARCHIVED)


class CustomField(BaseModel):
    id: UUID
    object_type: ObjectType
    key: str = Field(description=_KEY)
    label: str
    field_type: FieldType = Field(description=_TYPE)
    options: list[SelectOptionOut] = Field(description=_OPTIONS)
    archived: bool = Field(description=_ARCHIVED)
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class CustomFieldPage(BaseModel):
    data: list[CustomField]
    next_cursor: str | None = Field(description=_CURSOR)


_TAG_NAME = (
    "Stored like tags on records: whitespace collapsed, lower case, 1 to 64 characters. "
    "Unique in the workspace."
)
_COLOR = "`#rrggbb`, or null for none"
TagName = Annotated[str, Field(min_length=1, max_length=200, description=_TAG_NAME)]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description=_COLOR)]


class TagCreate(BaseModel):
    """A tag for the catalogue. Writing a contact, company or deal with a tag the catalogue
    lacks adds it too (with no color)."""

    model_config = _input({"name": "vip", "color": "#d62728"})
    name: TagName
    color: Color | None = None


class TagUpdate(BaseModel):
    """Rename (every record carrying the tag follows) and/or recolor."""

    model_config = _input({"name": "key account", "color": None})
    name: TagName | None = None
    color: Color | None = None


class Tag(BaseModel):
    id: UUID
    name: str = Field(description=_TAG_NAME)
    color: str | None = Field(description=_COLOR)
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class TagPage(BaseModel):
    data: list[Tag]
    next_cursor: str | None = Field(description=_CURSOR)
