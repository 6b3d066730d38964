"""The RFC 9457 problem document every non-2xx response carries."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field


class ProblemFieldError(BaseModel):
    field: str = Field(description="JSON Pointer into the request body, or the parameter name")
    source: str = Field("body", description="Where the field is: body, query, path or header")
    code: str = Field(description="Stable machine-readable reason, e.g. `invalid_email`")
    message: str


class Problem(BaseModel):
    type: str = Field(description="URI reference naming the problem type")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request path")
    code: str = Field(description="Stable machine-readable error code, e.g. `contact_not_found`")
    request_id: str
    errors: list[ProblemFieldError] = Field(default_factory=list)
    merged_into: UUID | None = Field(
        None,
        description="Only with `contact_merged` and `company_merged`: the record the requested "
        "one was merged into (read that one instead)",
    )
