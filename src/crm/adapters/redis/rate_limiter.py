"""Fixed-window rate limits shared by every API process through Redis.

A Redis round trip per request costs a third of the hot path's throughput, so each process
leases tokens in blocks with one atomic script and serves them locally. Redis never grants
more than the limit for a window's counter, so the sum over all processes stays exact; the
price is that tokens leased but unserved when a window ends are lost (at most a block and a
quarter per process and key: the next block is leased while the last quarter is served).
Windows are named by the wall clock, so processes need synchronised clocks (NTP); skew
shifts a process's window edges by that much.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crm.ports.rate_limiter import RateLimitDecision

logger = logging.getLogger("crm.ratelimit")

_FAILURES = (RedisError, OSError, TimeoutError)

# KEYS[1]: the window's counter. ARGV: limit, block, expiry in ms.
# Returns {granted, used}: granted = min(block, limit - used) (0 once the window is spent) and
# used = the counter after the grant. The expiry is only garbage collection: it is set when
# the counter is created, and outlives the window so a late process cannot restart it.
LEASE_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if granted <= 0 then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], granted)
if used == granted then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {granted, used}
"""


def default_block_size(limit: int) -> int:
    """Tokens leased per round trip: 1 for small limits so they stay exact per request."""
    return max(1, min(100, limit // 50))


@dataclass(slots=True, eq=False)
class _Lease:
    """What this process knows of one key in one window."""

    window: int
    used: int = 0
    """The shared counter at our last lease, our own unserved tokens included."""
    tokens: int = 0
    """Leased from Redis, not yet served."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while leasing, so one round trip per key is in flight and the others wait."""
    leasing_ahead: bool = False
    """A background lease of the next block is scheduled or running."""


class RedisRateLimiter:
    """`limit` requests per key per window, exact across processes; fails open on outages.

    Build the client with `build_redis_client` (0.25 s connect and read timeouts, no retries):
    a default client retries for seconds, and every request would wait for it.
    """

    def __init__(
        self,
        client: Redis,
        limit: int,
        window_seconds: float,
        prefix: str = "crm:rl:",
        block_size: int | None = None,
        clock: Callable[[], float] = time.time,
        *,
        warn_interval: float = 60.0,
        retry_after_failure: float = 1.0,
    ) -> None:
        block = default_block_size(limit) if block_size is None else block_size
        if limit < 1 or window_seconds <= 0 or block < 1:
            raise ValueError("limit and block_size must be >= 1, window_seconds > 0")
        self._client = client
        self._limit = limit
        self._window = window_seconds
        self._prefix = prefix
        self._block = block
        self._clock = clock
        self._warn_interval = warn_interval
        self._retry_after_failure = retry_after_failure
        self._lease_script = client.register_script(LEASE_SCRIPT)
        self._low_water = block // 4 if block >= 4 else -1
        """Tokens left when the next block is leased in the background (-1: never ahead)."""
        self._background: set[asyncio.Task[None]] = set()
        self._leases: dict[str, _Lease] = {}
        self._pruned_window = 0
        self._retry_at = -math.inf
        self._next_warning_at = -math.inf
        self._failing = False

    async def acquire(self, key: str) -> RateLimitDecision:
        """Take a token leased earlier; lease a new block from Redis only when none is left."""
        now = self._clock()
        lease = self._lease_for(key, int(now // self._window))
        reset_after = self._window - now % self._window
        while lease.tokens == 0 and lease.used < self._limit:
            if now < self._retry_at or not await self._refill(key, lease):
                remaining = self._remaining(lease)
                return RateLimitDecision(True, self._limit, remaining, reset_after, degraded=True)
        if lease.tokens == 0:
            return RateLimitDecision(False, self._limit, 0, reset_after)
        lease.tokens -= 1
        if lease.tokens <= self._low_water and not lease.leasing_ahead:
            self._refill_ahead(key, lease)
        return RateLimitDecision(True, self._limit, self._remaining(lease), reset_after)

    def _refill_ahead(self, key: str, lease: _Lease) -> None:
        """Lease the next block while this one still serves: requests never wait for Redis
        at a block boundary (waiting there was most of the p99 under load)."""
        if lease.used >= self._limit or self._clock() < self._retry_at:
            return
        lease.leasing_ahead = True

        async def lease_ahead() -> None:
            try:
                await self._refill(key, lease, ahead=True)
            finally:
                lease.leasing_ahead = False

        task = asyncio.create_task(lease_ahead())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Finish leases in flight, then close the Redis client and its connections."""
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._client.aclose()

    def _lease_for(self, key: str, window: int) -> _Lease:
        if window != self._pruned_window:
            # Leases of past windows are dead weight; coroutines still holding one keep it.
            self._pruned_window = window
            self._leases = {k: v for k, v in self._leases.items() if v.window >= window}
        lease = self._leases.get(key)
        if lease is None or lease.window != window:
            lease = self._leases[key] = _Lease(window)
        return lease

    def _remaining(self, lease: _Lease) -> int:
        return max(0, min(self._limit, self._limit - lease.used + lease.tokens))

    async def _refill(self, key: str, lease: _Lease, *, ahead: bool = False) -> bool:
        """Lease a block for `lease`'s window; False when Redis cannot be used right now."""
        async with lease.lock:
            # Whoever held the lock before us may have leased already, or found Redis down.
            if lease.tokens > (self._low_water if ahead else 0) or lease.used >= self._limit:
                return True
            if self._clock() < self._retry_at:
                return False
            try:
                granted, used = await self._lease_script(
                    keys=[f"{self._prefix}{key}:{lease.window}"],
                    args=[self._limit, self._block, self._expiry_ms(lease.window)],
                )
            except _FAILURES as exc:
                self._record_failure(exc)
                return False
            self._record_success()
            lease.tokens += int(granted)
            lease.used = max(lease.used, int(used))
            return True

    def _expiry_ms(self, window: int) -> int:
        # One extra window of slack covers clock skew between processes.
        window_end = (window + 1) * self._window
        return max(1, math.ceil((window_end - self._clock() + self._window) * 1000))

    def _record_failure(self, exc: BaseException) -> None:
        now = self._clock()
        self._retry_at = now + self._retry_after_failure
        self._failing = True
        if now >= self._next_warning_at:
            self._next_warning_at = now + self._warn_interval
            logger.warning(
                "Redis unreachable (%s: %s); requests are served without rate limits",
                type(exc).__name__,
                exc,
            )

    def _record_success(self) -> None:
        if self._failing:
            self._failing = False
            logger.info("Redis reachable again; rate limits are enforced")
