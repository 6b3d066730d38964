"""What failed authentication costs: bounded memory for what it leaves behind, and a limit
per client address on how often it may happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from crm.ports.rate_limiter import RateLimiter

K = TypeVar("K")
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """At most `size` values, each until its deadline; when full the oldest goes first, so a
    flood of new keys (random tokens, addresses) costs bounded memory."""

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, now: float) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= now:
            del self._entries[key]
            return None
        return hit[1]

    def put(self, key: K, value: V, until: float) -> None:
        # Re-inserted at the end: the order of the dict is the order of eviction.
        self._entries.pop(key, None)
        if len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (until, value)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class TooManyFailedAttempts(Exception):
    """The client's address failed to authenticate too often; it may retry after
    `retry_after` seconds."""

    def __init__(self, limit: int, retry_after: float) -> None:
        super().__init__(f"more than {limit} failed authentications; retry in {retry_after} s")
        self.limit, self.retry_after = limit, retry_after


class FailureThrottle:
    """Failed authentications per client address, counted by the shared rate limiter (its own
    namespace and limit). An address over the limit is refused before any credential lookup
    until the limiter's window resets; successful requests never reach this class."""

    def __init__(
        self,
        limiter: RateLimiter,
        limit: int,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter, self._limit, self._clock = limiter, limit, clock
        self._blocked: Expiring[str, float] = Expiring(max_addresses)

    def check(self, address: str) -> None:
        """Raise TooManyFailedAttempts while `address` is over its limit."""
        now = self._clock()
        until = self._blocked.get(address, now)
        if until is not None:
            raise TooManyFailedAttempts(self._limit, until - now)

    async def failed(self, address: str) -> None:
        """Count one failure; raise TooManyFailedAttempts when it is one too many."""
        decision = await self._limiter.acquire(address)
        if decision.allowed:
            return
        until = self._clock() + decision.reset_after
        self._blocked.put(address, until, until)
        raise TooManyFailedAttempts(self._limit, decision.reset_after)
