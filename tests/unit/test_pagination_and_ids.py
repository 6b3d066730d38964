from __future__ import annotations

import os
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import InvalidCursor
from crm.domain.pagination import Position, SortOrder, decode_cursor, encode_cursor
from crm.entrypoints.api.gateway import request_id_from


def test_a_cursor_round_trips() -> None:
    position = Position(datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC), uuid4())
    cursor = encode_cursor(position, SortOrder.NEWEST_FIRST)
    assert decode_cursor(cursor, SortOrder.NEWEST_FIRST) == position


@pytest.mark.parametrize("bad", ["", "not base64!", "bm90IGpzb24", "WzEsMl0"])
def test_a_malformed_cursor_is_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(bad, SortOrder.NEWEST_FIRST)


def test_a_cursor_of_another_sort_order_is_refused() -> None:
    cursor = encode_cursor(Position(datetime.now(UTC), uuid4()), SortOrder.OLDEST_FIRST)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, SortOrder.NEWEST_FIRST)


def test_uuid7_ids_are_version_7_and_strictly_increasing() -> None:
    ids = Uuid7Generator()
    made = [ids.new_id() for _ in range(5000)]
    assert all(u.version == 7 and u.variant == "specified in RFC 4122" for u in made)
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_uuid7_carries_the_creation_millisecond() -> None:
    before = int(datetime.now(UTC).timestamp() * 1000)
    made = Uuid7Generator().new_id()
    after = int(datetime.now(UTC).timestamp() * 1000)
    assert before <= made.int >> 80 <= after


def test_a_forked_child_draws_other_random_bits_than_its_parent() -> None:
    """Ids and request ids take their randomness from a buffer read ahead: a child process
    (uvicorn workers, the test harness) must not reuse what its parent had buffered."""
    ids = Uuid7Generator()
    ids.new_id()
    request_id_from(None)  # both buffers now hold bytes
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.close(reader)
        drawn = f"{ids.new_id().int & ((1 << 62) - 1):x} {request_id_from(None)}"
        os.write(writer, drawn.encode())
        os._exit(0)
    os.close(writer)
    child = os.read(reader, 200).decode().split()
    os.waitpid(pid, 0)
    os.close(reader)
    parent = [f"{ids.new_id().int & ((1 << 62) - 1):x}", request_id_from(None)]
    assert len(child) == 2
    assert child[0] != parent[0]
    assert child[1] != parent[1]
