"""Text rules every entity shares."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """True when `value` holds a C0 control character or DEL (NUL included, which no
    PostgreSQL text or jsonb value can store)."""
    return _CONTROL.search(value) is not None


NUL = "\x00"
Path = tuple[str | int, ...]


def nul_paths(value: object) -> list[Path]:
    """Where a JSON-like value (mappings, lists, strings) holds a NUL character, which no
    PostgreSQL text or jsonb value can store: the path of every such string, and of every
    member whose key holds one. Iterative, so any depth of nesting is safe."""
    found: list[Path] = []
    pending: deque[tuple[Path, object]] = deque([((), value)])
    while pending:
        path, item = pending.popleft()
        if isinstance(item, str):
            if NUL in item:
                found.append(path)
        elif isinstance(item, Mapping):
            for key, member in item.items():
                at = (*path, key)
                if isinstance(key, str) and NUL in key:
                    found.append(at)
                pending.append((at, member))
        elif isinstance(item, list | tuple):
            pending.extend(((*path, i), member) for i, member in enumerate(item))
    return found


def pointer(path: Path) -> str:
    """The JSON pointer of `path` as problems name fields (`/emails/0`)."""
    return "".join(f"/{part}" for part in path)
