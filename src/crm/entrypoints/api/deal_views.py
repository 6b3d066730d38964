"""Pipelines, deals, stage history and deal links as JSON, serialized once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.responses import Response

from crm.domain.model.deal import Deal, LinkedTo, StageChange
from crm.domain.model.pipeline import Pipeline, Stage, StageSummary
from crm.domain.pagination import Page
from crm.entrypoints.api.views import page_of, versioned_response

T = TypeVar("T")


def stage_dict(s: Stage) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "position": s.position,
        "probability": s.probability,
        "kind": s.kind.value,
    }


def pipeline_dict(p: Pipeline) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "is_default": p.is_default,
        "stages": [stage_dict(s) for s in p.stages],
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
    }


def pipeline_response(p: Pipeline, status: int = 200, location: bool = False) -> Response:
    where = f"/v1/pipelines/{p.id}" if location else None
    return versioned_response(pipeline_dict(p), p.version, status, where)


def summary_dict(pipeline_id: object, stages: list[StageSummary]) -> dict[str, Any]:
    return {
        "pipeline_id": pipeline_id,
        "stages": [
            {
                "stage_id": s.stage.id,
                "name": s.stage.name,
                "position": s.stage.position,
                "kind": s.stage.kind.value,
                "probability": s.stage.probability,
                "deal_count": s.deal_count,
                "totals": [
                    {
                        "currency": t.currency,
                        "deal_count": t.deal_count,
                        "amount_minor": t.amount_minor,
                        "weighted_amount_minor": (t.amount_minor * s.stage.probability + 50) // 100,
                    }
                    for t in s.totals
                ],
            }
            for s in stages
        ],
    }


def deal_dict(d: Deal) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "amount_minor": d.amount_minor,
        "currency": d.currency,
        "pipeline_id": d.pipeline_id,
        "stage_id": d.stage_id,
        "status": d.status.value,
        "owner_id": d.owner_id,
        "external_id": d.external_id,
        "expected_close_date": d.expected_close_date,
        "closed_at": d.closed_at,
        "tags": d.tags,
        "custom_fields": d.custom_fields,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "version": d.version,
    }


def deal_response(d: Deal, status: int = 200, location: bool = False) -> Response:
    where = f"/v1/deals/{d.id}" if location else None
    return versioned_response(deal_dict(d), d.version, status, where)


def change_dict(c: StageChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "deal_id": c.deal_id,
        "from_stage_id": c.from_stage_id,
        "to_stage_id": c.to_stage_id,
        "moved_by": c.moved_by,
        "moved_at": c.moved_at,
    }


def linked_page(
    page: Page[LinkedTo[T]], name: str, item: Callable[[T], dict[str, Any]]
) -> Response:
    return page_of(page, lambda x: {name: item(x.item), "linked_at": x.linked_at})
