"""Rate limiting per credential, shared by every API process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    degraded: bool = False
    """True when the shared store was unreachable and the request was let through."""


class RateLimiter(Protocol):
    async def acquire(self, key: str) -> RateLimitDecision:
        """Take one request's token for `key` in the current window."""

    async def close(self) -> None: ...
