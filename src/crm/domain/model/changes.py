"""Field-by-field changes to an aggregate: what `apply` records, and the version bump."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class FieldChange:
    old: Any
    new: Any


class Versioned(Protocol):
    updated_at: datetime
    version: int


def apply_changes(
    target: Versioned,
    changes: Mapping[str, Any],
    now: datetime,
    check: Callable[[], None] | None = None,
) -> dict[str, FieldChange]:
    """Set validated `changes` on `target`; returns the fields whose values really changed.

    `custom_fields` merges into the current values (a None value removes a key). When
    anything changed, `check` (the aggregate's own invariants) runs on the new state, then
    `updated_at` becomes `now` and `version` goes up by one."""
    changed: dict[str, FieldChange] = {}
    for name, value in changes.items():
        old = getattr(target, name)
        new = value
        if name == "custom_fields":
            new = {k: v for k, v in {**old, **value}.items() if v is not None}
        if new != old:
            changed[name] = FieldChange(old, new)
            setattr(target, name, new)
    if changed:
        if check is not None:
            check()
        target.updated_at = now
        target.version += 1
    return changed
