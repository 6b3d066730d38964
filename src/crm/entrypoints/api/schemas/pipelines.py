"""Pipeline and stage schemas (the public contract; the domain model is separate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.pipeline import MAX_NAME, MAX_STAGES, StageKind

_CURSOR = "Pass as `cursor` for the next page; null at the end"
_PROBABILITY = (
    "Chance of winning a deal in this stage, in whole percent (0 to 100). Defaults: open 0, "
    "won 100, lost 0"
)
_KIND = "`open` while the deal is in progress; a deal in a `won` or `lost` stage is closed"
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Probability = Annotated[int, Field(ge=0, le=100, description=_PROBABILITY)]
_STAGE: JsonDict = {"name": "Qualified to buy", "probability": 40, "kind": "open"}


def _examples(*examples: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class NewStage(BaseModel):
    """A stage of a pipeline being created."""

    model_config = _examples(_STAGE)

    name: Name
    probability: Probability | None = None
    kind: StageKind = Field(StageKind.OPEN, description=_KIND)


class PipelineCreate(BaseModel):
    """A new pipeline and its stages in order; it needs at least one open stage."""

    model_config = _examples(
        {
            "name": "Renewals",
            "stages": [
                {"name": "Up for renewal", "probability": 50},
                {"name": "Renewed", "kind": "won"},
                {"name": "Churned", "kind": "lost"},
            ],
        }
    )

    name: Name
    is_default: bool = Field(
        False, description="Make it the workspace's default (the former default stops being one)"
    )
    stages: list[NewStage] = Field(min_length=1, max_length=MAX_STAGES)


class PipelineUpdate(BaseModel):
    """Partial update. `is_default: true` makes this the default pipeline; the default cannot
    be unset, only handed to another pipeline."""

    model_config = _examples({"name": "Enterprise sales"}, {"is_default": True})

    name: Name | None = None
    is_default: bool | None = None


class StageCreate(BaseModel):
    """A stage added to a pipeline, at `position` (0 is first; by default the end)."""

    model_config = _examples({**_STAGE, "position": 1})

    name: Name
    probability: Probability | None = None
    kind: StageKind = Field(StageKind.OPEN, description=_KIND)
    position: int | None = Field(None, ge=0, le=MAX_STAGES)


class StageUpdate(BaseModel):
    """Partial update of a stage; its kind changes only while it holds no deals."""

    model_config = _examples({"name": "Demo scheduled", "probability": 55})

    name: Name | None = None
    probability: Probability | None = None
    kind: StageKind | None = Field(None, description=_KIND)


class StageOrder(BaseModel):
    """Every stage id of the pipeline exactly once, in the new order."""

    model_config = _examples(
        {
            "stage_ids": [
                "0193a1b2-0000-7000-8000-000000000002",
                "0193a1b2-0000-7000-8000-000000000001",
            ]
        }
    )

    stage_ids: list[UUID] = Field(min_length=1, max_length=MAX_STAGES)


class Stage(BaseModel):
    id: UUID
    name: str
    position: int = Field(description="0 is the first stage")
    probability: int = Field(description="Chance of winning, in whole percent")
    kind: StageKind


class Pipeline(BaseModel):
    id: UUID
    name: str
    is_default: bool = Field(description="Deals created without a pipeline go to this one")
    stages: list[Stage] = Field(description="In order")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class PipelinePage(BaseModel):
    data: list[Pipeline]
    next_cursor: str | None = Field(description=_CURSOR)


class CurrencyTotal(BaseModel):
    currency: str = Field(description="ISO 4217")
    deal_count: int
    amount_minor: int = Field(description="Sum of the deals' amounts, in minor units")
    weighted_amount_minor: int = Field(
        description="amount_minor times the stage's probability, rounded to a whole minor unit"
    )


class StageSummary(BaseModel):
    stage_id: UUID
    name: str
    position: int
    kind: StageKind
    probability: int
    deal_count: int = Field(description="Deals in the stage, with or without an amount")
    totals: list[CurrencyTotal] = Field(description="Amounts per currency, by currency code")


class PipelineSummary(BaseModel):
    pipeline_id: UUID
    stages: list[StageSummary] = Field(description="In stage order")
