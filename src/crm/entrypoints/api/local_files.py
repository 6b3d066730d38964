"""The local file store's links, served by the app itself under `crm dev`: GET streams a
file, POST takes an upload form shaped like S3's presigned POST (its fields, then `file`).

The token in the path is the only credential (no API key): it names the workspace, key,
operation and expiry, signed by the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from crm.domain.errors import DomainError
from crm.domain.model.blobs import (
    FileLink,
    FileNotFound,
    LinkOp,
    MalformedUpload,
    UploadTooLarge,
    content_disposition,
)
from crm.entrypoints.api.errors import status_of
from crm.entrypoints.api.problems import problem_response
from crm.ports.blobs import SignedFiles

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

PATH = "/v1/files/{token}"
FORM_OVERHEAD = 64 * 1024
"""The most bytes an upload's fields and part headers may take besides the file."""
_STATUS: dict[type[DomainError], int] = {UploadTooLarge: 413, MalformedUpload: 400}
# A file is served from the API's own origin: it must never run as a page of that origin.
_SANDBOX = {"Content-Security-Policy": "sandbox; default-src 'none'"}


def mount_local_files(app: Starlette, files: SignedFiles) -> None:
    """Serve `files`' links. Plain Starlette routes, so no OpenAPI entry: clients follow the
    URLs the API gives them. Mount before the app's route table is built."""
    served = _LocalFiles(files)
    app.router.routes.extend(
        [
            Route(PATH, served.download, methods=["GET"]),
            Route(PATH, served.upload, methods=["POST"]),
        ]
    )


class _LocalFiles:
    def __init__(self, files: SignedFiles) -> None:
        self._files = files

    async def download(self, request: Request) -> Response:
        try:
            link = self._files.verify(request.path_params["token"], LinkOp.GET)
            opened = await self._files.read(link.workspace_id, link.key)
            if opened is None:
                raise FileNotFound("The file is gone (deleted, or never uploaded).")
        except DomainError as e:
            return _problem(request, e)
        info, chunks = opened
        headers = {
            "Content-Type": info.content_type,
            "Content-Length": str(info.size),
            "Content-Disposition": content_disposition(link.filename)
            if link.filename
            else "inline",
            **_SANDBOX,
        }
        return StreamingResponse(chunks, headers=headers)

    async def upload(self, request: Request) -> Response:
        try:
            link = self._files.verify(request.path_params["token"], LinkOp.PUT)
            _check_length(request, link)
            form = _StreamingForm(_boundary(request), request.stream())
            await self._files.receive(link, await form.fields(), form.file())
        except DomainError as e:
            return _problem(request, e)
        return Response(status_code=204)


def _problem(request: Request, e: DomainError) -> Response:
    status = _STATUS.get(type(e)) or status_of(e)
    return problem_response(request.scope, status, e.code, e.title, e.detail)


def _check_length(request: Request, link: FileLink) -> None:
    """Refuse a body announced too large before reading any of it."""
    length = request.headers.get("content-length", "")
    limit = (link.max_bytes or 0) + FORM_OVERHEAD
    if length.isdigit() and int(length) > limit:
        raise UploadTooLarge(f"The file is larger than {link.max_bytes} bytes.")


def _boundary(request: Request) -> bytes:
    media, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise MalformedUpload("Send the form as multipart/form-data: its fields, then `file`.")
    return boundary


class _StreamingForm:
    """An upload form read as it arrives: its fields, then the `file` part's bytes as they
    come, never the whole file in memory. Like S3, it ignores whatever follows the file."""

    def __init__(self, boundary: bytes, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._fields: dict[str, str] = {}
        self._state = "fields"  # then "file" while the file streams, then "done"
        self._part: str | None = None  # the field being read, "" in the file, None to skip
        self._headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]
        self._value = bytearray()
        self._field_bytes = 0
        self._file_data: list[bytes] = []
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda data, start, end: self._add_header(0, data[start:end]),
            "on_header_value": lambda data, start, end: self._add_header(1, data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    async def fields(self) -> dict[str, str]:
        """The fields before the file, once its first bytes are reached."""
        while self._state == "fields":
            if not await self._feed() and self._state == "fields":
                raise MalformedUpload("The form has no `file` part.")
        return self._fields

    async def file(self) -> AsyncIterator[bytes]:
        while True:
            if self._file_data:
                data = b"".join(self._file_data)
                self._file_data.clear()
                yield data
            if self._state == "done":
                return
            if not await self._feed() and self._state != "done":
                raise MalformedUpload("The form ends inside its file.")

    async def _feed(self) -> bool:
        chunk = await anext(self._body, None)
        try:
            if chunk is None:
                self._parser.finalize()
                return False
            self._parser.write(chunk)
        except FormParserError as e:
            raise MalformedUpload("The body is not a well-formed multipart form.") from e
        return True

    def _add_header(self, index: int, data: bytes) -> None:
        self._header[index] += data

    def _header_end(self) -> None:
        self._headers[self._header[0].lower()] = self._header[1]
        self._header = [b"", b""]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._state != "fields":
            self._part = None
        elif name == "file":
            self._state, self._part = "file", ""
        else:
            self._part, self._value = name, bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "":
            self._file_data.append(data[start:end])
        elif self._part is not None:
            self._field_bytes += end - start
            if self._field_bytes > FORM_OVERHEAD:
                raise MalformedUpload(f"The form's fields exceed {FORM_OVERHEAD} bytes.")
            self._value += data[start:end]

    def _part_end(self) -> None:
        if self._part == "":
            self._state = "done"
        elif self._part is not None:
            self._fields[self._part] = self._value.decode("utf-8", "replace")
        self._part = None
