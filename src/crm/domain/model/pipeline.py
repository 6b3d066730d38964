"""Pipelines: the ordered stages a deal goes through, each with a win probability and a kind.

Rules: a pipeline has 1 to 50 stages with distinct names, and always at least one open stage
(deals are created in the first open one). Won and lost stages are optional: a pipeline
without them simply never closes a deal. Positions are 0..n-1 in the order of `stages`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.text import has_control_characters

MAX_STAGES = 50
MAX_NAME = 100


class StageKind(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


DEFAULT_PROBABILITY = {StageKind.OPEN: 0, StageKind.WON: 100, StageKind.LOST: 0}

DEFAULT_PIPELINE_NAME = "Sales pipeline"
DEFAULT_STAGES: tuple[tuple[str, int, StageKind], ...] = (
    ("Appointment scheduled", 20, StageKind.OPEN),
    ("Qualified to buy", 40, StageKind.OPEN),
    ("Presentation scheduled", 60, StageKind.OPEN),
    ("Decision maker bought-in", 80, StageKind.OPEN),
    ("Contract sent", 90, StageKind.OPEN),
    ("Closed won", 100, StageKind.WON),
    ("Closed lost", 0, StageKind.LOST),
)
"""The pipeline every workspace starts with (the 0004 migration seeds the same one)."""


def invalid(pointer: str, code: str, message: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(detail or message, errors=(FieldError(pointer, code, message),))


def name(value: Any, pointer: str = "/name") -> str:
    cleaned = " ".join(str(value or "").split())
    if not 1 <= len(cleaned) <= MAX_NAME or has_control_characters(cleaned):
        raise invalid(pointer, "invalid_length", f"1 to {MAX_NAME} printable characters")
    return cleaned


def probability(value: Any, pointer: str = "/probability") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise invalid(pointer, "out_of_range", "a whole percentage from 0 to 100")
    return value


def kind(value: Any, pointer: str = "/kind") -> StageKind:
    try:
        return StageKind(value)
    except ValueError:
        raise invalid(pointer, "invalid_choice", "one of: open, won, lost") from None


@dataclass(frozen=True, slots=True)
class StageSpec:
    """A stage as asked for: validated, not yet placed."""

    name: str
    probability: int
    kind: StageKind

    @classmethod
    def parse(cls, raw: Mapping[str, Any], at: str = "") -> StageSpec:
        k = kind(raw.get("kind") or StageKind.OPEN, f"{at}/kind")
        p = raw.get("probability")
        return cls(
            name(raw.get("name"), f"{at}/name"),
            DEFAULT_PROBABILITY[k] if p is None else probability(p, f"{at}/probability"),
            k,
        )


@dataclass(slots=True)
class Stage:
    id: UUID
    name: str
    probability: int
    kind: StageKind
    position: int
    created_at: datetime


@dataclass(slots=True)
class Pipeline:
    id: UUID
    workspace_id: UUID
    name: str
    is_default: bool
    stages: list[Stage]
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @classmethod
    def create(
        cls,
        id: UUID,
        workspace_id: UUID,
        pipeline_name: str,
        specs: Sequence[StageSpec],
        new_id: Callable[[], UUID],
        now: datetime,
        *,
        is_default: bool = False,
    ) -> Pipeline:
        stages = [
            Stage(new_id(), s.name, s.probability, s.kind, i, now) for i, s in enumerate(specs)
        ]
        pipeline = cls(id, workspace_id, pipeline_name, is_default, stages, now, now)
        pipeline._check()
        return pipeline

    @classmethod
    def default(
        cls, id: UUID, workspace_id: UUID, new_id: Callable[[], UUID], now: datetime
    ) -> Pipeline:
        specs = [StageSpec(n, p, k) for n, p, k in DEFAULT_STAGES]
        return cls.create(
            id, workspace_id, DEFAULT_PIPELINE_NAME, specs, new_id, now, is_default=True
        )

    def stage(self, stage_id: UUID) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def first_open_stage(self) -> Stage:
        return next(s for s in self.stages if s.kind is StageKind.OPEN)

    def add_stage(self, stage: Stage, position: int | None) -> None:
        at = len(self.stages) if position is None else min(max(position, 0), len(self.stages))
        self.stages.insert(at, stage)
        self._check(pointer="/name")

    def change_stage(self, stage: Stage, changes: Mapping[str, Any]) -> bool:
        """Apply validated changes (name, probability, kind); True when something changed."""
        changed = False
        for attr, value in changes.items():
            if getattr(stage, attr) != value:
                setattr(stage, attr, value)
                changed = True
        if changed:
            self._check(pointer="/kind" if "kind" in changes else "/name")
        return changed

    def remove_stage(self, stage: Stage) -> None:
        self.stages.remove(stage)
        self._check(pointer="/stage_id")

    def reorder(self, stage_ids: Sequence[UUID]) -> bool:
        """Put the stages in the order of `stage_ids`: exactly the pipeline's stage ids."""
        known = {s.id: s for s in self.stages}
        errors = [
            FieldError(f"/stage_ids/{i}", "unknown_stage", "not a stage of this pipeline")
            for i, sid in enumerate(stage_ids)
            if sid not in known
        ]
        errors += [
            FieldError(f"/stage_ids/{i}", "duplicate", "listed twice")
            for i, sid in enumerate(stage_ids)
            if sid in stage_ids[:i]
        ]
        missing = [str(sid) for sid in known if sid not in stage_ids]
        if missing:
            errors.append(FieldError("/stage_ids", "missing_stages", ", ".join(missing)))
        if errors:
            raise InvalidInput(
                "List every stage of the pipeline exactly once.", errors=tuple(errors)
            )
        before = [s.id for s in self.stages]
        self.stages = [known[sid] for sid in stage_ids]
        self._renumber()
        return before != list(stage_ids)

    def touch(self, now: datetime) -> None:
        self.updated_at = now
        self.version += 1

    def _renumber(self) -> None:
        for i, s in enumerate(self.stages):
            s.position = i

    def _check(self, pointer: str = "/stages") -> None:
        self._renumber()
        if len(self.stages) > MAX_STAGES:
            raise invalid(pointer, "too_many", f"at most {MAX_STAGES} stages")
        if not any(s.kind is StageKind.OPEN for s in self.stages):
            raise invalid(
                pointer,
                "open_stage_required",
                "a pipeline keeps at least one open stage",
                "A pipeline needs at least one open stage: deals start in its first open stage.",
            )
        seen: set[str] = set()
        for s in self.stages:
            if s.name.casefold() in seen:
                raise invalid(pointer, "duplicate_name", f"two stages are named {s.name!r}")
            seen.add(s.name.casefold())


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    deal_count: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class StageSummary:
    """Deals in one stage: how many, and their amounts summed per currency."""

    stage: Stage
    deal_count: int
    totals: list[CurrencyTotal] = field(default_factory=list)
