"""Fixed-window rate limits held in this process only (development and tests)."""

from __future__ import annotations

import time
from collections.abc import Callable

from crm.ports.rate_limiter import RateLimitDecision


class InMemoryRateLimiter:
    """`limit` requests per key per window of `window_seconds`, exact within one process."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._used: dict[str, tuple[int, int]] = {}
        self._pruned_window = 0

    async def acquire(self, key: str) -> RateLimitDecision:
        """Count one request for `key`, or refuse it when the window's limit is reached."""
        now = self._clock()
        window = int(now // self._window)
        self._prune(window)
        reset_after = self._window - now % self._window
        seen_window, used = self._used.get(key, (window, 0))
        if seen_window != window:
            used = 0
        if used >= self._limit:
            return RateLimitDecision(False, self._limit, 0, reset_after)
        self._used[key] = (window, used + 1)
        return RateLimitDecision(True, self._limit, self._limit - used - 1, reset_after)

    async def close(self) -> None:
        """Nothing to release."""

    def _prune(self, window: int) -> None:
        # Counts of past windows are dead weight; drop them once per window so memory follows
        # the keys active now, not every key ever seen.
        if window == self._pruned_window:
            return
        self._pruned_window = window
        self._used = {k: v for k, v in self._used.items() if v[0] >= window}
