"""Points in time as the service stores them: with an offset, and expressible in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = "0001-01-01T00:00:00Z"
LATEST = "9999-12-31T23:59:59.999999Z"
RANGE = f"between {EARLIEST} and {LATEST} once in UTC"


def in_utc(value: datetime) -> datetime | None:
    """`value` in UTC; None when it has no offset or UTC cannot hold it (year 1 at +14:00 is
    still year 0 in UTC, 9999-12-31 at -14:00 already year 10000: Python and the database
    driver overflow on both)."""
    if value.utcoffset() is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None
