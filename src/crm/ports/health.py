"""Readiness: each dependency answers whether it can serve right now."""

from __future__ import annotations

from typing import Protocol


class HealthCheck(Protocol):
    name: str

    async def check(self) -> None:
        """Return when healthy; raise ServiceUnavailable with a reason otherwise."""
