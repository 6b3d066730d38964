"""The Redis client the composition root builds: quick to give up, never retrying on its own."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

DEFAULT_TIMEOUT = 0.25
"""Seconds to connect and to wait for a reply; an outage must not hold requests longer."""


def build_redis_client(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Redis:
    """A client for `url` with short socket timeouts and no retries."""
    # redis-py retries 10 times with exponential backoff by default: seconds per call in an
    # outage. The rate limiter fails open and backs off itself, so one quick failure is better.
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
