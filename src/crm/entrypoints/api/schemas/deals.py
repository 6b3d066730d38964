"""Deal schemas: deals, moves, stage history and links (the public contract)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.contact_rules import MAX_CUSTOM_FIELDS, MAX_SAFE_INTEGER, MAX_TAGS
from crm.domain.model.pipeline import StageKind
from crm.entrypoints.api.schemas.companies import Company
from crm.entrypoints.api.schemas.contacts import Contact, ExternalId
from crm.entrypoints.api.schemas.shared import ScalarInput, ScalarOutput

_CURSOR = "Pass as `cursor` for the next page; null at the end"
Name = Annotated[str, Field(min_length=1, max_length=200)]
Amount = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="In minor units of `currency` (cents for EUR: 1250 is 12.50); with currency",
    ),
]
Currency = Annotated[
    str,
    Field(
        min_length=3,
        max_length=3,
        description="ISO 4217 code, e.g. `EUR` (stored upper case); with amount_minor",
    ),
]
Tags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_TAGS)]
CustomFields = Annotated[
    dict[Annotated[str, Field(max_length=64)], ScalarInput],
    Field(
        max_length=MAX_CUSTOM_FIELDS,
        description="Values of the workspace's deal custom fields, by key; null clears",
    ),
]
_EXAMPLE: JsonDict = {
    "name": "Acme renewal 2027",
    "amount_minor": 1250000,
    "currency": "EUR",
    "expected_close_date": "2027-03-31",
    "tags": ["renewal"],
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


class DealCreate(_Input):
    """A new deal. Without `pipeline_id` it goes to the default pipeline; without `stage_id`
    to the pipeline's first open stage."""

    name: Name
    amount_minor: Amount | None = None
    currency: Currency | None = None
    pipeline_id: UUID | None = None
    stage_id: UUID | None = Field(None, description="A stage of the deal's pipeline")
    owner_id: UUID | None = Field(None, description="A user who is a member of the workspace")
    external_id: ExternalId | None = None
    expected_close_date: date | None = None
    tags: Tags = []
    custom_fields: CustomFields = {}


class DealUpdate(_Input):
    """Partial update: fields left out are unchanged, `null` clears; the stage changes only
    through POST /v1/deals/{deal_id}/move."""

    name: Name | None = None
    amount_minor: Amount | None = None
    currency: Currency | None = None
    owner_id: UUID | None = None
    external_id: ExternalId | None = None
    expected_close_date: date | None = None
    tags: Tags | None = None
    custom_fields: CustomFields | None = None


class DealMove(BaseModel):
    """The stage to move the deal to: a stage of the deal's own pipeline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"stage_id": "0193a1b2-0000-7000-8000-000000000003"}]},
    )

    stage_id: UUID


class Deal(BaseModel):
    id: UUID
    name: str
    amount_minor: int | None = Field(description="In minor units of `currency`")
    currency: str | None = Field(description="ISO 4217")
    pipeline_id: UUID
    stage_id: UUID
    status: StageKind = Field(description="The kind of the deal's stage")
    owner_id: UUID | None
    external_id: str | None = Field(description="Your own system's id for the deal")
    expected_close_date: date | None
    closed_at: datetime | None = Field(
        description="When the deal entered a won or lost stage; null while open"
    )
    tags: list[str]
    custom_fields: dict[str, ScalarOutput]
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class DealPage(BaseModel):
    data: list[Deal]
    next_cursor: str | None = Field(description=_CURSOR)


class StageChange(BaseModel):
    """One move of a deal; the first entry (from_stage_id null) is its creation."""

    id: UUID
    deal_id: UUID
    from_stage_id: UUID | None
    to_stage_id: UUID
    moved_by: UUID | None = Field(description="The user or API key that moved it")
    moved_at: datetime


class StageChangePage(BaseModel):
    data: list[StageChange]
    next_cursor: str | None = Field(description=_CURSOR)


class DealContactLink(BaseModel):
    """A deal is linked to a contact."""

    deal_id: UUID
    contact_id: UUID
    linked_at: datetime


class DealCompanyLink(BaseModel):
    """A deal is linked to a company."""

    deal_id: UUID
    company_id: UUID
    linked_at: datetime


class LinkedDeal(BaseModel):
    """A deal linked to the contact or company."""

    deal: Deal
    linked_at: datetime


class LinkedDealPage(BaseModel):
    data: list[LinkedDeal]
    next_cursor: str | None = Field(description=_CURSOR)


class DealContact(BaseModel):
    """A contact linked to the deal."""

    contact: Contact
    linked_at: datetime


class DealContactPage(BaseModel):
    data: list[DealContact]
    next_cursor: str | None = Field(description=_CURSOR)


class DealCompany(BaseModel):
    """A company linked to the deal."""

    company: Company
    linked_at: datetime


class DealCompanyPage(BaseModel):
    data: list[DealCompany]
    next_cursor: str | None = Field(description=_CURSOR)


DealSort = Literal["created_at", "-created_at"]
