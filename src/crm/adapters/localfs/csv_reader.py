"""Reading CSV records from a binary file so that one broken record never costs the others.

The standard `csv` module parses; we feed it the file line by line and watch each record:
- bytes that are not UTF-8, or a NUL, fail the record they are in (`invalid_utf8`,
  `nul_character`), whose cells are kept with the bad bytes replaced;
- a record the parser refuses (`"x"y`, or a quote never closed, which swallows the following
  lines until the field size limit or the end of the file) fails as `malformed_row`, and
  reading resumes on the line after the one where that record began, so the rows a runaway
  quote swallowed are read again on their own.
A UTF-8 byte order mark is dropped. A blank line, or a row of empty cells as spreadsheets
leave, is a record marked `blank` (the import counts it as skipped); blank lines before the
header row are no records at all.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from itertools import dropwhile
from typing import BinaryIO

from crm.ports.imports import CsvRecord

BOM = b"\xef\xbb\xbf"
# The csv module's field size limit (131,072 characters) is what stops a runaway quoted
# field long before the end of a large file.


class _Lines:
    """The file's lines as text for the parser, remembering those of the current record so
    that reading can resume inside it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._number = 0
        self._again: deque[tuple[int, str, bool]] = deque()
        self.record: list[tuple[int, str, bool]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._again.popleft() if self._again else self._read()
        self.record.append(line)
        return line[1]

    def _read(self) -> tuple[int, str, bool]:
        raw = self._file.readline()
        if not raw:
            raise StopIteration
        self._number += 1
        if self._number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if raw.isascii():
            return self._number, raw.decode("ascii"), b"\x00" not in raw
        try:
            return self._number, raw.decode("utf-8"), b"\x00" not in raw
        except UnicodeDecodeError:
            return self._number, raw.decode("utf-8", "replace"), False

    def replay_after_first(self) -> None:
        """Read the current record's lines again, but for its first."""
        self._again.extendleft(reversed(self.record[1:]))


def header_and_rows(file: BinaryIO) -> tuple[CsvRecord | None, Iterator[CsvRecord]]:
    """The header (the first record that is not blank, None in an empty file) and the
    records after it."""
    records = dropwhile(lambda r: r.blank, read_records(file))
    return next(records, None), records


def read_records(file: BinaryIO) -> Iterator[CsvRecord]:
    """Every record of the file, blank ones marked."""
    lines = _Lines(file)
    reader = csv.reader(lines, strict=True)
    while True:
        lines.record = []
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            first = lines.record[0] if lines.record else (0, "", True)
            lines.replay_after_first()
            reader = csv.reader(lines, strict=True)
            yield CsvRecord(first[0], (first[1].rstrip("\r\n"),), ("malformed_row", str(e)))
            continue
        if not any(cell.strip() for cell in cells):  # blank, or `,,,` as spreadsheets leave
            yield CsvRecord(lines.record[0][0], tuple(cells), blank=True)
            continue
        yield _checked(lines.record, tuple(cells))


def _checked(lines: list[tuple[int, str, bool]], cells: tuple[str, ...]) -> CsvRecord:
    line = lines[0][0]
    if all(ok for _, _, ok in lines):
        return CsvRecord(line, cells)
    if any("\x00" in cell for cell in cells):
        cleaned = tuple(cell.replace("\x00", "") for cell in cells)
        return CsvRecord(line, cleaned, ("nul_character", "the row contains a NUL character"))
    return CsvRecord(line, cells, ("invalid_utf8", "the row is not valid UTF-8"))


def with_width(record: CsvRecord, width: int) -> CsvRecord:
    """A record whose cell count differs from the header's fails (`wrong_cell_count`)."""
    if record.problem is not None or record.blank or len(record.cells) == width:
        return record
    message = f"expected {width} cells like the header, found {len(record.cells)}"
    return CsvRecord(record.line, record.cells, ("wrong_cell_count", message))
