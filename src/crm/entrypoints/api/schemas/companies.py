"""Company and contact-company link schemas (the public contract; the domain model is separate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.company_rules import SizeBand
from crm.domain.model.contact_rules import MAX_CUSTOM_FIELDS, MAX_TAGS
from crm.entrypoints.api.schemas.contacts import Contact
from crm.entrypoints.api.schemas.shared import ScalarInput, ScalarOutput

_CURSOR = "Pass as `cursor` for the next page; null at the end"
_DOMAIN = (
    "The company's web domain, stored normalized: scheme, `www.`, port and path dropped, lower "
    "case, internationalized names in ASCII (punycode): `https://WWW.Acme.com/about` is "
    "`acme.com`. One company per domain in a workspace."
)
_WEBSITE = "An http or https URL"
_COUNTRY = "ISO 3166-1 alpha-2 code, e.g. `GB` (stored upper case)"
_ADDRESS = "Replaced as a whole when written; null (or no part given) clears it"

Name = Annotated[str, Field(min_length=1, max_length=200)]
Industry = Annotated[str, Field(max_length=100)]
Domain = Annotated[str, Field(max_length=300, description=_DOMAIN)]
Country = Annotated[str, Field(min_length=2, max_length=2, description=_COUNTRY)]
Website = Annotated[str, Field(max_length=2048, description=_WEBSITE)]
Tags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_TAGS)]
CustomFields = Annotated[
    dict[Annotated[str, Field(max_length=64)], ScalarInput],
    Field(
        max_length=MAX_CUSTOM_FIELDS,
        description="Values of the workspace's company custom fields, by key; null clears",
    ),
]

_EXAMPLE: JsonDict = {
    "name": "Analytical Engines Ltd",
    "domain": "https://www.analytical-engines.example/about",
    "industry": "Computing",
    "size_band": "51-200",
    "country": "GB",
    "address": {"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH"},
    "website": "https://www.analytical-engines.example",
    "tags": ["enterprise"],
}


class Address(BaseModel):
    """A postal address; every part optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"line1": "1 Main St", "city": "Springfield"}]},
    )

    line1: Annotated[str, Field(max_length=200)] | None = None
    line2: Annotated[str, Field(max_length=200)] | None = None
    city: Annotated[str, Field(max_length=100)] | None = None
    region: Annotated[str, Field(max_length=100)] | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})


class CompanyCreate(_Input):
    """A new company: a name is required, everything else optional."""

    name: Name
    domain: Domain | None = None
    industry: Industry | None = None
    size_band: SizeBand | None = None
    country: Country | None = None
    address: Address | None = Field(None, description=_ADDRESS)
    website: Website | None = None
    owner_id: UUID | None = Field(None, description="A user who is a member of the workspace")
    tags: Tags = []
    custom_fields: CustomFields = {}


class CompanyUpdate(_Input):
    """Partial update: fields left out are unchanged, `null` clears (the name cannot be
    cleared); custom_fields merge by key."""

    name: Name | None = None
    domain: Domain | None = None
    industry: Industry | None = None
    size_band: SizeBand | None = None
    country: Country | None = None
    address: Address | None = Field(None, description=_ADDRESS)
    website: Website | None = None
    owner_id: UUID | None = None
    tags: Tags | None = None
    custom_fields: CustomFields | None = None


class Company(BaseModel):
    id: UUID
    name: str
    domain: str | None = Field(description=_DOMAIN)
    industry: str | None
    size_band: SizeBand | None
    country: str | None = Field(description=_COUNTRY)
    address: Address | None
    website: str | None
    owner_id: UUID | None
    tags: list[str]
    custom_fields: dict[str, ScalarOutput]
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class CompanyPage(BaseModel):
    data: list[Company]
    next_cursor: str | None = Field(description=_CURSOR)


class CompanyLinkOptions(BaseModel):
    """How to link: leave `is_primary` out to keep an existing link's flag (a new link becomes
    primary when the contact has no primary company)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"is_primary": True}]}
    )

    is_primary: bool | None = Field(
        None,
        description="true: the contact's one primary company (the previous one stops being "
        "primary); false: a secondary company",
    )


class CompanyLink(BaseModel):
    """A contact works at a company."""

    contact_id: UUID
    company_id: UUID
    is_primary: bool = Field(description="Whether this is the contact's primary company")
    linked_at: datetime


class ContactCompany(BaseModel):
    """One of a contact's companies."""

    company: Company
    is_primary: bool = Field(description="Whether this is the contact's primary company")
    linked_at: datetime


class ContactCompanyPage(BaseModel):
    data: list[ContactCompany]
    next_cursor: str | None = Field(description=_CURSOR)


class CompanyContact(BaseModel):
    """One of a company's contacts."""

    contact: Contact
    is_primary: bool = Field(description="Whether this company is the contact's primary one")
    linked_at: datetime


class CompanyContactPage(BaseModel):
    data: list[CompanyContact]
    next_cursor: str | None = Field(description=_CURSOR)


CompanySort = Literal["created_at", "-created_at"]
