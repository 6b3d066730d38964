"""CSV import request (a multipart form) and response schemas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from pydantic_core import PydanticCustomError
from starlette.datastructures import UploadFile as StarletteUpload

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.imports import Dedupe, ImportObject, ImportStatus
from crm.domain.model.text import NUL, nul_paths
from crm.entrypoints.api.inputs import MESSAGE as NUL_MESSAGE

READ_SIZE = 1024 * 1024
_MAPPING_EXAMPLE = '{"Email": "emails", "First": "first_name", "Tier": "custom_fields.tier"}'


class ImportUpload(BaseModel):
    """A CSV file (UTF-8, optional BOM, header row first) and how to read it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"object_type": "contacts", "mapping": _MAPPING_EXAMPLE, "dedupe": "skip"}]
        },
    )

    file: UploadFile = Field(
        description="The CSV file", json_schema_extra={"type": "string", "format": "binary"}
    )
    object_type: ImportObject = Field(description="What each row becomes")
    mapping: str | None = Field(
        None,
        max_length=100_000,
        description=(
            "A JSON object from CSV column to field (`first_name`, `emails`, `tags`, "
            "`custom_fields.<key>`, ...; null ignores the column). Columns left out map to "
            "the field their header names, if any; the others are ignored and listed in "
            "`ignored_columns`. List fields (emails, phones, tags) split cells on `;`."
        ),
        examples=[_MAPPING_EXAMPLE],
    )
    dedupe: Dedupe = Field(
        Dedupe.SKIP,
        description=(
            "A row whose key (`match_on`) matches a record: `skip` leaves the record, "
            "`update` updates it with the row's non-empty cells, `create` fails the row "
            "when its email (domain, external id) is taken"
        ),
    )
    match_on: Literal["email", "phone", "external_id", "domain"] | None = Field(
        None,
        description=(
            "The key rows match records on: contacts email (default), phone or external_id; "
            "companies domain; deals external_id"
        ),
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # Every form field, and the file's name: the database stores no NUL.
        text = value.filename if isinstance(value, StarletteUpload) else value
        if isinstance(text, str) and NUL in text:
            raise PydanticCustomError("invalid_character", NUL_MESSAGE)
        return value


class ImportSkipReasons(BaseModel):
    """How many rows were skipped for each reason (they add up to `skipped`)."""

    existing_record: int = Field(
        description="The row's key matched a record and `dedupe` is `skip`"
    )
    blank_row: int = Field(
        description="The row holds nothing but empty cells (a blank line, or `,,,`)"
    )


class ImportProgress(BaseModel):
    rows_total: int | None = Field(
        description="Rows after the header, blank ones included; null until counted"
    )
    rows_done: int
    created: int
    updated: int
    unchanged: int = Field(description="Matched and updated with the values it already had")
    skipped: int = Field(description="Rows neither written nor failed; why in `skipped_reasons`")
    skipped_reasons: ImportSkipReasons
    failed: int = Field(description="Unreadable rows and rows refused, each with its reason")
    failed_rows_dropped: int = Field(
        description="Failed rows beyond the 10,000 kept for the failed-rows download"
    )


class Import(BaseModel):
    id: UUID
    object_type: ImportObject
    status: ImportStatus = Field(description="queued, running, done or failed")
    dedupe: Dedupe
    match_on: str | None
    file_name: str | None
    mapping: dict[str, str] = Field(description="CSV column → field, as applied")
    ignored_columns: list[str] = Field(description="Columns that map to no field")
    progress: ImportProgress
    error: str | None = Field(description="Why a failed import stopped")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportPage(BaseModel):
    data: list[Import]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class FailedRowsCsv(RootModel[str]):
    """CSV: `line` (in the uploaded file), `code`, `message`, then the row's original cells.
    Text cells (the header too) that start with `=`, `+`, `-`, `@`, a tab or a carriage return
    get a leading `'` so that spreadsheets never run them (CSV injection): `-5` reads `'-5`."""


def parse_mapping(text: str | None) -> dict[str, str | None] | None:
    """The form's `mapping` text as a JSON object of column → field name (or null)."""
    if text is None or not text.strip():
        return None
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str | None) for v in value.values()):
        raise InvalidInput(
            "The mapping is not a JSON object of column names to field names.",
            errors=(FieldError("/mapping", "invalid_mapping", 'e.g. {"Email": "emails"}'),),
        )
    if nul_paths(value):
        raise InvalidInput(
            "The mapping holds a NUL character.",
            errors=(FieldError("/mapping", "invalid_character", NUL_MESSAGE),),
        )
    return value


async def chunks(file: UploadFile) -> AsyncIterator[bytes]:
    """The uploaded file, a megabyte at a time."""
    while chunk := await file.read(READ_SIZE):
        yield chunk
