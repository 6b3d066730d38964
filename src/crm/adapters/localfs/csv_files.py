"""Uploaded CSV files kept as temporary files on local disk until their import ends.

The import runs in the process that took the upload, so the file never needs to be shared;
reading and parsing run in a worker thread, a chunk of records at a time.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import suppress
from itertools import islice
from pathlib import Path

from crm.adapters.localfs.csv_reader import header_and_rows, with_width
from crm.domain.errors import FieldError, InvalidInput
from crm.ports.imports import CsvRecord


class TempCsvFiles:
    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory or Path(tempfile.gettempdir()) / "crm-imports"

    async def keep(self, chunks: AsyncIterable[bytes]) -> str:
        """Write the upload to a new temporary file; returns its path."""
        self._directory.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(suffix=".csv", dir=self._directory)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    await asyncio.to_thread(out.write, chunk)
        except BaseException:
            await self.discard(path)
            raise
        return path

    async def header(self, handle: str) -> tuple[str, ...]:
        """The first record, checked: present, readable, without duplicate names."""
        first = await asyncio.to_thread(_first_record, handle)
        if first is None:
            raise _bad_file("empty_file", "the file is empty; it needs a header row")
        if first.problem is not None:
            raise _bad_file("not_csv", f"the header row cannot be read: {first.problem[1]}")
        names = tuple(cell.strip() for cell in first.cells)
        duplicates = sorted({n for n in names if n and names.count(n) > 1})
        if duplicates:
            raise _bad_file("duplicate_column", f"columns named twice: {', '.join(duplicates)}")
        return names

    async def count(self, handle: str) -> int:
        """Records after the header, blank ones included."""
        return await asyncio.to_thread(_count, handle)

    async def records(self, handle: str, size: int) -> AsyncIterator[list[CsvRecord]]:
        """The records after the header, `size` at a time, each checked against its width."""
        file = await asyncio.to_thread(open, handle, "rb")
        try:
            header, records = await asyncio.to_thread(header_and_rows, file)
            width = 0 if header is None else len(header.cells)
            while chunk := await asyncio.to_thread(lambda: list(islice(records, size))):
                yield [with_width(record, width) for record in chunk]
        finally:
            file.close()

    async def discard(self, handle: str) -> None:
        """Delete the file (gone already is fine)."""
        with suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, handle)


def _first_record(path: str) -> CsvRecord | None:
    with open(path, "rb") as file:
        return header_and_rows(file)[0]


def _count(path: str) -> int:
    with open(path, "rb") as file:
        return sum(1 for _ in header_and_rows(file)[1])


def _bad_file(code: str, message: str) -> InvalidInput:
    return InvalidInput(
        "The file is not a CSV file with a header row.",
        errors=(FieldError("/file", code, message),),
    )
