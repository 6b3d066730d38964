"""Readiness of Redis: a PING through the client the rate limiter uses."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crm.domain.errors import ServiceUnavailable


class RedisHealthCheck:
    """Healthy when Redis answers PING."""

    name = "redis"

    def __init__(self, client: Redis) -> None:
        self._client = client

    async def check(self) -> None:
        """Return when Redis answers; raise ServiceUnavailable with the reason otherwise."""
        try:
            await self._client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            raise ServiceUnavailable(f"redis: {exc or type(exc).__name__}") from exc
