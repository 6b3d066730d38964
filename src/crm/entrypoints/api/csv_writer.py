"""The one CSV writer of the service: every CSV we send (exports, failed import rows) is
written here, so every cell goes through the same defence against CSV injection.

A text cell whose first character is `=`, `+`, `-`, `@`, a tab or a carriage return would be
run as a formula by a spreadsheet (`=cmd|' /C calc'!A0`), so it gets a leading `'`, as OWASP
recommends. That includes text that merely looks like a number (`-5`, `+14155550123` read
`'-5`, `'+14155550123`): telling a harmless number from a formula such as `-2+3+cmd|...` is
exactly the guess the defence must not make. Numbers we hold as numbers (an `amount_minor`,
an import's line number) are written as they are: they cannot carry a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

Cell = str | int | float
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs it."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """The rows as CSV lines (RFC 4180: CRLF, quotes where needed), text cells neutralized."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralize(c) if isinstance(c, str) else c for c in row])
    return buffer.getvalue()
