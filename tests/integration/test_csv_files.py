"""Reading uploaded CSV files: one broken record never costs the records around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm.adapters.localfs.csv_files import TempCsvFiles
from crm.domain.errors import InvalidInput
from crm.ports.imports import CsvRecord


def leftovers(directory: Path) -> list[Path]:
    return list(directory.iterdir())


async def upload(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 7):  # small chunks: the file is written as it arrives
        yield data[start : start + 7]


async def read_all(data: bytes, tmp_path: Path, size: int = 2) -> list[CsvRecord]:
    files = TempCsvFiles(tmp_path)
    handle = await files.keep(upload(data))
    try:
        return [r async for chunk in files.records(handle, size) for r in chunk]
    finally:
        await files.discard(handle)


def by_line(records: list[CsvRecord]) -> dict[int, tuple[tuple[str, ...], str | None]]:
    return {r.line: (r.cells, r.problem[0] if r.problem else None) for r in records}


async def test_a_bom_is_dropped_quoted_newlines_stay_in_their_cell_empty_rows_are_blank(
    tmp_path: Path,
) -> None:
    data = (
        b'\xef\xbb\xbfemail,note\r\na@x.io,"two\r\nlines"\r\n\r\nb@x.io,"say ""hi"""\r\n'
        b" , \r\n,\r\n"
    )
    files = TempCsvFiles(tmp_path)
    handle = await files.keep(upload(data))
    assert await files.header(handle) == ("email", "note")
    assert await files.count(handle) == 5
    records = [r async for chunk in files.records(handle, 10) for r in chunk]
    assert by_line(records) == {
        2: (("a@x.io", "two\r\nlines"), None),
        4: ((), None),
        5: (("b@x.io", 'say "hi"'), None),
        6: ((" ", " "), None),
        7: (("", ""), None),
    }
    assert [r.line for r in records if r.blank] == [4, 6, 7]
    await files.discard(handle)
    assert leftovers(tmp_path) == []


async def test_blank_lines_before_the_header_are_no_rows(tmp_path: Path) -> None:
    files = TempCsvFiles(tmp_path)
    handle = await files.keep(upload(b"\n,,\r\nemail,name\na@x.io,Ada\n"))
    assert await files.header(handle) == ("email", "name")
    assert await files.count(handle) == 1
    records = [r async for chunk in files.records(handle, 10) for r in chunk]
    assert by_line(records) == {4: (("a@x.io", "Ada"), None)}
    await files.discard(handle)


async def test_malformed_rows_fail_alone_and_the_rows_around_them_are_read(
    tmp_path: Path,
) -> None:
    data = (
        b"email,name\n"
        b"a@x.io,Ada\n"
        b'b@x.io,"Bob\n'  # a quote never closed: would swallow every line after it
        b"c@x.io,Cy\n"
        b'd@x.io,"Di"x\n'  # text after a closing quote
        b"e@x.io,\xff\xfeEve\n"  # not UTF-8
        b"f@x.io,Fa\x00y\n"  # NUL
        b"g@x.io\n"  # too few cells
        b"h@x.io,Hal,extra\n"  # too many
        b"i@x.io,Ida\n"
    )
    records = await read_all(data, tmp_path)
    assert by_line(records) == {
        2: (("a@x.io", "Ada"), None),
        3: (('b@x.io,"Bob',), "malformed_row"),
        4: (("c@x.io", "Cy"), None),
        5: (('d@x.io,"Di"x',), "malformed_row"),
        6: (("e@x.io", "\ufffd\ufffdEve"), "invalid_utf8"),
        7: (("f@x.io", "Fay"), "nul_character"),
        8: (("g@x.io",), "wrong_cell_count"),
        9: (("h@x.io", "Hal", "extra"), "wrong_cell_count"),
        10: (("i@x.io", "Ida"), None),
    }


async def test_a_quote_left_open_at_the_end_fails_only_its_row(tmp_path: Path) -> None:
    records = await read_all(b'email,name\na@x.io,Ada\nb@x.io,"Bob\n', tmp_path)
    assert by_line(records) == {
        2: (("a@x.io", "Ada"), None),
        3: (('b@x.io,"Bob',), "malformed_row"),
    }


async def test_a_runaway_quote_in_a_large_file_costs_one_row(tmp_path: Path) -> None:
    rows = [f"u{i}@x.io,User {i}\n".encode() for i in range(20_000)]
    rows[10] = b'u10@x.io,"User 10\n'
    records = await read_all(b"email,name\n" + b"".join(rows), tmp_path, size=500)
    assert len(records) == 20_000
    assert [r.line for r in records if r.problem] == [12]
    assert records[-1].cells == ("u19999@x.io", "User 19999")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"\xef\xbb\xbf\n\n", "empty_file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_csv"),
        (b"email,email\nx,y\n", "duplicate_column"),
    ],
)
async def test_a_file_without_a_readable_header_is_refused(
    data: bytes, code: str, tmp_path: Path
) -> None:
    files = TempCsvFiles(tmp_path)
    handle = await files.keep(upload(data))
    with pytest.raises(InvalidInput) as caught:
        await files.header(handle)
    assert [(e.field, e.code) for e in caught.value.errors] == [("/file", code)]
