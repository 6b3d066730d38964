"""The Redis clients the composition root builds: quick to give up, and past a Redis restart
without a single failed call."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError

DEFAULT_TIMEOUT = 0.25
"""Seconds to connect and to wait for a reply; an outage must not hold requests longer."""
HEALTH_CHECK_SECONDS = 15
"""A pooled connection idle longer than this answers a PING before it is used again."""


def build_redis_client(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Redis:
    """A client for `url` with short socket timeouts that retries a dead connection once."""
    # After a Redis restart every pooled connection is dead, and nothing notices until it is
    # used: one immediate retry on a new connection hides that from callers. Timeouts are not
    # retried: a hung Redis would cost each caller twice the timeout, and a command that timed
    # out may have run (a counter would count twice). The rate limiter fails open and backs
    # off itself; redis-py's default (exponential backoff) would hold requests for seconds.
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
        health_check_interval=HEALTH_CHECK_SECONDS,
    )
