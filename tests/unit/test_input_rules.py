"""The shared input rules: where a value holds a NUL, which times UTC can hold, and cursors
that were forged with a time out of range or JSON nested too deep."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from crm.domain.errors import InvalidCursor
from crm.domain.model.instant import in_utc
from crm.domain.model.task import DuePosition
from crm.domain.model.text import nul_paths
from crm.domain.model.timeline import EventPosition
from crm.domain.pagination import SortOrder, decode_cursor, pack_cursor
from crm.entrypoints.api.inputs import nul_in_body, nul_in_parameters

EARLY = "0001-01-01T00:00:00+14:00"
LATE = "9999-12-31T23:59:59-14:00"


def test_nul_paths_name_every_string_and_key_at_any_depth() -> None:
    value: Any = {"a": ["ok", "b\x00"], "k\x00": {"deep": "x\x00"}, "n": 1}
    assert nul_paths(value) == [("k\x00",), ("a", 1), ("k\x00", "deep")]
    nested: Any = "\x00"
    for _ in range(10_000):  # deeper than any recursive walk could go
        nested = [nested]
    assert len(nul_paths(nested)[0]) == 10_000


def test_a_body_is_scanned_only_when_it_spells_a_nul() -> None:
    assert nul_in_body(b'{"text": "a\\\\u0000"}') == []  # an escaped backslash, then "u0000"
    [error] = nul_in_body(b'{"items": [{"x": "\\u0000"}], "y": "\\u0000"}', frozenset({"items"}))
    assert error["loc"] == ("body", "y")
    assert nul_in_body(b"[" * 100_000 + b'"\\u0000"') == []  # left to the JSON validation
    sources = {"q": "query", "id": "path", "if-match": "header"}
    raw = {"q": ["a", "b\x00"], "id": "\x00", "if-match": "\x00"}
    assert [e["loc"] for e in nul_in_parameters(raw, sources)] == [("query", "q"), ("path", "id")]


def test_times_utc_cannot_hold_have_no_utc_form() -> None:
    plus14, minus14 = timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))
    assert in_utc(datetime(1, 1, 1, tzinfo=plus14)) is None
    assert in_utc(datetime(9999, 12, 31, 23, 59, 59, tzinfo=minus14)) is None
    assert in_utc(datetime(2026, 1, 1)) is None  # noqa: DTZ001 (no offset, on purpose)
    assert in_utc(datetime(1, 1, 1, 14, tzinfo=plus14)) == datetime(1, 1, 1, tzinfo=UTC)


DECODERS: dict[str, tuple[Callable[[str], object], Callable[[str], str]]] = {
    "list": (
        lambda c: decode_cursor(c, SortOrder.NEWEST_FIRST),
        lambda at: pack_cursor(at, str(uuid.uuid4()), SortOrder.NEWEST_FIRST.value),
    ),
    "tasks": (DuePosition.decode, lambda at: pack_cursor("task", at, str(uuid.uuid4()))),
    "events": (EventPosition.decode, lambda at: pack_cursor("event", at, str(uuid.uuid4()))),
}


@pytest.mark.parametrize("name", DECODERS)
def test_a_cursor_forged_with_a_time_utc_cannot_hold_is_malformed(name: str) -> None:
    decode, forge = DECODERS[name]
    decode(forge("2026-01-01T00:00:00+02:00"))
    for at in (EARLY, LATE):
        with pytest.raises(InvalidCursor):
            decode(forge(at))


def test_a_cursor_nested_too_deep_to_parse_is_malformed() -> None:
    deep = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    with pytest.raises(InvalidCursor):
        decode_cursor(deep, SortOrder.NEWEST_FIRST)
