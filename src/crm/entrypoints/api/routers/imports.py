"""CSV imports: POST /v1/imports (multipart), GET /v1/imports/{import_id}, failed rows as CSV."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request, Response

from crm.bootstrap import Container
from crm.domain.model.imports import FailedRow, ImportJob
from crm.domain.pagination import PageRequest, SortOrder, decode_cursor
from crm.domain.use_cases.imports import StartImportCommand
from crm.entrypoints.api.csv_writer import Cell, csv_text
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.routers.workspaces import Cursor, Limit
from crm.entrypoints.api.schemas import imports as s
from crm.entrypoints.api.views import json_response, page_of

ACCEPTED = {
    "description": "Accepted: the import runs in the background; poll `Location`",
    "headers": {
        "Location": {
            "description": "The import's URL",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}
FAILED_ROWS = {
    "description": "The failed rows as CSV",
    "content": {"text/csv": {"schema": {"$ref": "#/components/schemas/FailedRowsCsv"}}},
}
PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
Upload = Annotated[s.ImportUpload, Form(media_type="multipart/form-data")]


class CsvResponse(Response):
    media_type = "text/csv"


def json_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`problems(...)` for a route whose own media type is not JSON: FastAPI would document
    its problems in that media type, so their content is given explicitly."""
    return {
        status: {"description": response["description"], "content": PROBLEM}
        for status, response in problems(*statuses).items()
    }


def import_dict(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "object_type": job.object_type,
        "status": job.status,
        "dedupe": job.dedupe,
        "match_on": job.match_on,
        "file_name": job.file_name,
        "mapping": dict(job.mapping),
        "ignored_columns": list(job.ignored_columns),
        "progress": progress_dict(job),
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def progress_dict(job: ImportJob) -> dict[str, Any]:
    counts = job.counts
    return {
        "rows_total": job.rows_total,
        "rows_done": counts.rows_done,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "skipped": counts.skipped,
        "skipped_reasons": {r.value: n for r, n in counts.skipped_by_reason().items()},
        "failed": counts.failed,
        "failed_rows_dropped": job.failed_rows_dropped,
    }


def failed_rows_csv(job: ImportJob, rows: list[FailedRow]) -> str:
    lines: list[list[Cell]] = [["line", "code", "message", *job.columns]]
    lines += [[row.line, row.code, row.message, *row.cells] for row in rows]
    return csv_text(lines)


def build(c: Container) -> APIRouter:
    # A plain APIRoute: LeanRoute serves JSON bodies only, and this one is a multipart form
    # whose file FastAPI spools to disk while it parses.
    r = APIRouter(tags=["imports"])

    @r.post(
        "/v1/imports",
        status_code=202,
        response_model=s.Import,
        operation_id="createImport",
        summary="Import a CSV file",
        description=c.imports.start.__doc__,
        responses={**problems(400, 413, 415, 422), 202: ACCEPTED},
    )
    async def create_import(form: Upload, request: Request) -> Response:
        mapping = s.parse_mapping(form.mapping)
        cmd = StartImportCommand(
            principal(request),
            form.object_type,
            s.chunks(form.file),
            form.file.filename,
            mapping,
            form.dedupe,
            form.match_on,
        )
        job = await c.imports.start.execute(cmd)
        return json_response(import_dict(job), 202, {"Location": f"/v1/imports/{job.id}"})

    @r.get(
        "/v1/imports",
        response_model=s.ImportPage,
        operation_id="listImports",
        summary="List imports",
        description=c.imports.list.__doc__,
        responses=problems(422),
    )
    async def list_imports(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Response:
        newest = SortOrder.NEWEST_FIRST
        after = None if cursor is None else decode_cursor(cursor, newest)
        page = await c.imports.list.execute(principal(request), PageRequest(limit, after, newest))
        return page_of(page, import_dict, newest)

    @r.get(
        "/v1/imports/{import_id}",
        response_model=s.Import,
        operation_id="getImport",
        summary="Get an import's progress",
        description=c.imports.get.__doc__,
        responses=problems(404, 422),
    )
    async def get_import(import_id: UUID, request: Request) -> Response:
        return json_response(
            import_dict(await c.imports.get.execute(principal(request), import_id))
        )

    @r.get(
        "/v1/imports/{import_id}/failed-rows",
        # A media-type-less class: FastAPI then documents no default body next to the CSV one.
        response_class=Response,
        response_model=s.FailedRowsCsv,
        operation_id="getImportFailedRows",
        summary="Download an import's failed rows",
        description=c.imports.failed_rows.__doc__,
        responses={**json_problems(404, 422), 200: FAILED_ROWS},
    )
    async def get_import_failed_rows(import_id: UUID, request: Request) -> Response:
        job, rows = await c.imports.failed_rows.execute(principal(request), import_id)
        disposition = f'attachment; filename="import-{job.id}-failed-rows.csv"'
        return CsvResponse(failed_rows_csv(job, rows), headers={"Content-Disposition": disposition})

    return r
