"""Batch results as JSON: each item's record as GET shows it, or its problem; the counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from starlette.responses import Response

from crm.domain.use_cases.batch import ItemResult, ItemStatus
from crm.entrypoints.api.errors import problem_of
from crm.entrypoints.api.views import json_response


def batch_response(
    results: Sequence[ItemResult], view: Callable[[Any], dict[str, Any]]
) -> Response:
    counts = Counter(r.status for r in results)
    body: dict[str, Any] = {
        "results": [
            {
                "index": r.index,
                "status": r.status.value,
                "data": None if r.record is None else view(r.record),
                "problem": None if r.error is None else problem_of(r.error),
            }
            for r in results
        ],
        **{status.value: counts[status] for status in ItemStatus},
    }
    return json_response(body)
