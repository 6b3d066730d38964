"""Liveness and readiness probes (unauthenticated)."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.errors import PortError
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.problems import problem_response
from crm.entrypoints.api.schemas.health import Health
from crm.entrypoints.api.schemas.problem import Problem
from crm.ports.health import HealthCheck

CHECK_TIMEOUT_SECONDS = 2.0


async def _run(check: HealthCheck) -> str | None:
    """None when healthy, else why not."""
    try:
        await asyncio.wait_for(check.check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS} s"
    except PortError as e:
        return str(e)
    return None


def build(c: Container) -> APIRouter:
    r = APIRouter(tags=["health"], route_class=LeanRoute)

    @r.get("/healthz", response_model=Health, operation_id="getHealth", summary="Liveness")
    async def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok", "checks": {}}), media_type="application/json")

    @r.get(
        "/readyz",
        response_model=Health,
        operation_id="getReadiness",
        summary="Readiness: can every dependency be reached?",
        responses={503: {"model": Problem, "description": "A dependency is down"}},
    )
    async def readyz(request: Request) -> Response:
        results = await asyncio.gather(*(_run(check) for check in c.health_checks))
        down = {ch.name: why for ch, why in zip(c.health_checks, results, strict=True) if why}
        if down:
            errors = [
                {"field": name, "source": "dependency", "code": "unavailable", "message": why}
                for name, why in down.items()
            ]
            names = ", ".join(down)
            return problem_response(
                request.scope,
                503,
                "dependency_unavailable",
                "Not ready",
                f"Unavailable: {names}.",
                errors=errors,
            )
        checks = {ch.name: "ok" for ch in c.health_checks}
        return Response(
            orjson.dumps({"status": "ready", "checks": checks}), media_type="application/json"
        )

    return r
