"""Contact request and response schemas (the public contract; the domain model is separate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.contact_rules import (
    MAX_CUSTOM_FIELDS,
    MAX_EMAILS,
    MAX_EXTERNAL_ID,
    MAX_PHONES,
    MAX_TAGS,
    LifecycleStage,
)
from crm.entrypoints.api.schemas.shared import ScalarInput, ScalarOutput
from crm.entrypoints.api.schemas.shared import TagFilter as TagFilter  # re-exported

ShortText = Annotated[str, Field(max_length=200)]
CustomFields = Annotated[
    dict[Annotated[str, Field(max_length=64)], ScalarInput],
    Field(
        max_length=MAX_CUSTOM_FIELDS,
        description=(
            "Values by field key; each key must be a contact custom field defined in "
            "/v1/custom-fields (not archived) and each value fit its type. Values of archived "
            "fields are kept but not shown."
        ),
    ),
]
Emails = Annotated[list[Annotated[str, Field(max_length=254)]], Field(max_length=MAX_EMAILS)]
Phones = Annotated[
    list[Annotated[str, Field(max_length=40)]],
    Field(max_length=MAX_PHONES, description="International format; stored as E.164"),
]
Tags = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        max_length=MAX_TAGS,
        description=(
            "Stored lower case with whitespace collapsed; a tag missing from the workspace's "
            "catalogue (/v1/tags) is added to it"
        ),
    ),
]

ExternalId = Annotated[
    str,
    Field(
        max_length=MAX_EXTERNAL_ID,
        description=(
            "Your own system's id for the record: unique in the workspace (a clash is 409 "
            "`external_id_taken`), trimmed, empty means none; batch upserts can match on it"
        ),
    ),
]

_EXAMPLE: JsonDict = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "emails": ["ada@example.com"],
    "phones": ["+44 20 7946 0958"],
    "job_title": "Analyst",
    "company_name": "Analytical Engines Ltd",
    "tags": ["vip"],
    "lifecycle_stage": "lead",
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


class ContactCreate(_Input):
    """A new contact: give at least a name, an email or a phone number."""

    display_name: ShortText | None = None
    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None
    emails: Emails = []
    phones: Phones = []
    job_title: ShortText | None = None
    company_name: ShortText | None = None
    owner_id: UUID | None = Field(None, description="A user who is a member of the workspace")
    external_id: ExternalId | None = None
    tags: Tags = []
    lifecycle_stage: LifecycleStage = LifecycleStage.LEAD
    custom_fields: CustomFields = {}


class ContactUpdate(_Input):
    """Partial update: fields left out are unchanged, `null` clears; custom_fields merge by key."""

    display_name: ShortText | None = None
    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None
    emails: Emails | None = None
    phones: Phones | None = None
    job_title: ShortText | None = None
    company_name: ShortText | None = None
    owner_id: UUID | None = None
    external_id: ExternalId | None = None
    tags: Tags | None = None
    lifecycle_stage: LifecycleStage | None = None
    custom_fields: CustomFields | None = None


class Contact(BaseModel):
    id: UUID
    name: str = Field(description="Display name, else first + last name, else an email or phone")
    display_name: str | None
    first_name: str | None
    last_name: str | None
    emails: list[str]
    phones: list[str] = Field(description="E.164")
    job_title: str | None
    company_name: str | None
    owner_id: UUID | None
    external_id: str | None = Field(description="Your own system's id for the contact")
    tags: list[str]
    lifecycle_stage: LifecycleStage
    custom_fields: dict[str, ScalarOutput]
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class ContactPage(BaseModel):
    data: list[Contact]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


ContactSort = Literal["created_at", "-created_at"]
