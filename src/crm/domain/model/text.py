"""Text rules every entity shares."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """True when `value` holds a C0 control character or DEL (NUL included, which no
    PostgreSQL text or jsonb value can store)."""
    return _CONTROL.search(value) is not None
