"""Batch request and response schemas: create, update or upsert up to 100 records at once."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from crm.entrypoints.api.inputs import PerItem
from crm.entrypoints.api.schemas.companies import Company
from crm.entrypoints.api.schemas.contacts import Contact
from crm.entrypoints.api.schemas.deals import Deal
from crm.entrypoints.api.schemas.problem import ProblemFieldError

MAX_BATCH = 100
# Any JSON object: each item is validated by the use case, so one bad item fails alone. The
# schema is spelled `additionalProperties: {}` (not pydantic's `true`): inside a closed object
# the latter makes openapi-generator's Kotlin client warn "Failed to get the schema name".
Item = Annotated[dict[str, Any], WithJsonSchema({"type": "object", "additionalProperties": {}})]
Operation = Annotated[
    Literal["create", "update", "upsert"],
    Field(
        description=(
            "`create`: every item is a new record; `update`: every item names a record by `id` "
            "(with an optional `if_match` version) and changes the fields it gives, like PATCH; "
            "`upsert`: every item is a create body carrying the `match_on` key: a record "
            "holding the key is updated like a PATCH, else one is created"
        )
    ),
]
OnMatch = Annotated[
    Literal["update", "skip"],
    Field(description="Upsert only: `skip` leaves a matched record as it is (status `skipped`)"),
]


def _items(kind: str, create: str, update: str) -> Any:
    return Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=(
            f"1 to {MAX_BATCH} {kind}: a `{create}` body each for create and upsert, a "
            f"`{update}` body plus `id` (and optionally `if_match`) for update. Each item is "
            "validated on its own: a bad item fails alone, in its result"
        ),
    )


class _Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactBatch(_Batch):
    """Many contacts at once; every item gets its own result."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation": "upsert",
                    "match_on": "email",
                    "items": [{"first_name": "Ada", "emails": ["ada@example.com"]}],
                }
            ]
        }
    )

    operation: Operation
    match_on: Literal["email", "phone", "external_id"] = Field(
        "email",
        description=(
            "Upsert key: `email` (any of the item's emails), `phone` (any of its numbers, "
            "compared in E.164) or `external_id`"
        ),
    )
    on_match: OnMatch = "update"
    items: Annotated[list[Item], PerItem()] = _items("contacts", "ContactCreate", "ContactUpdate")


class CompanyBatch(_Batch):
    """Many companies at once; every item gets its own result."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"operation": "upsert", "items": [{"name": "Acme", "domain": "acme.com"}]}]
        }
    )

    operation: Operation
    match_on: Literal["domain"] = Field("domain", description="Upsert key: the normalized domain")
    on_match: OnMatch = "update"
    items: Annotated[list[Item], PerItem()] = _items("companies", "CompanyCreate", "CompanyUpdate")


class DealBatch(_Batch):
    """Many deals at once; every item gets its own result."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"operation": "upsert", "items": [{"name": "Acme renewal", "external_id": "o-7"}]}
            ]
        }
    )

    operation: Operation
    match_on: Literal["external_id"] = Field("external_id", description="Upsert key")
    on_match: OnMatch = "update"
    items: Annotated[list[Item], PerItem()] = _items("deals", "DealCreate", "DealUpdate")


ItemStatus = Literal["created", "updated", "unchanged", "skipped", "failed"]


class BatchItemProblem(BaseModel):
    """Why an item failed: the problem the single-record operation would have answered;
    field pointers are relative to the item."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code, e.g. `invalid_email`")
    errors: list[ProblemFieldError] = Field(default_factory=list)


class _Result(BaseModel):
    index: int = Field(description="The item's position in `items`, from 0")
    status: ItemStatus
    problem: BatchItemProblem | None = Field(description="Only when the item failed")


class ContactBatchResult(_Result):
    data: Contact | None = Field(description="The contact as stored; null when the item failed")


class CompanyBatchResult(_Result):
    data: Company | None = Field(description="The company as stored; null when the item failed")


class DealBatchResult(_Result):
    data: Deal | None = Field(description="The deal as stored; null when the item failed")


class _Counts(BaseModel):
    created: int
    updated: int
    unchanged: int
    skipped: int
    failed: int


class ContactBatchResponse(_Counts):
    results: list[ContactBatchResult] = Field(description="One per item, in the items' order")


class CompanyBatchResponse(_Counts):
    results: list[CompanyBatchResult] = Field(description="One per item, in the items' order")


class DealBatchResponse(_Counts):
    results: list[DealBatchResult] = Field(description="One per item, in the items' order")
