"""Credential changes announced to every API process through Redis pub/sub.

Pub/sub delivers only to processes subscribed at that moment: a process that was cut off
from Redis may have missed changes, so on every (re)subscription it tells its listeners to
forget everything. While Redis is unreachable the other processes fall back to the auth
cache's TTL; this process's listeners always hear at once, without Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from crm.ports.credentials import CredentialChange, CredentialListener

logger = logging.getLogger("crm.credentials")

CHANNEL = "crm:credential-changes"
_FAILURES = (RedisError, OSError, TimeoutError)
_STOP_WITHIN = 2.0


class RedisCredentialInvalidation:
    """Publishes each change on one channel; `start` subscribes this process to it (when it
    has listeners: a CLI command only publishes) and keeps resubscribing after outages."""

    def __init__(
        self,
        client: Redis,
        *,
        channel: str = CHANNEL,
        ping_every: float = 5.0,
        max_backoff: float = 2.0,
    ) -> None:
        self._client, self._channel = client, channel
        self._ping_every, self._max_backoff = ping_every, max_backoff
        self._origin = uuid4().hex
        self._listeners: list[CredentialListener] = []
        self._task: asyncio.Task[None] | None = None
        self._backoff = 0.05
        self._failing = False
        self._stopping = False
        self.subscribed = asyncio.Event()
        """Set while this process is subscribed (tests wait for it)."""

    async def invalidate(self, change: CredentialChange) -> None:
        """Tell this process's listeners, then publish to the other processes."""
        self._tell(change)
        payload = json.dumps(
            {
                "workspace_id": str(change.workspace_id),
                "actor_id": str(change.actor_id),
                "origin": self._origin,
            }
        )
        try:
            await self._client.publish(self._channel, payload)
        except _FAILURES as exc:
            logger.warning(
                "Redis unreachable (%s: %s); other API processes see this credential change "
                "when their auth cache expires",
                type(exc).__name__,
                exc,
            )

    def subscribe(self, listener: CredentialListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Listen for the other processes' changes in the background."""
        if self._listeners and self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="credential-changes")

    async def stop(self) -> None:
        """Stop listening and close the client, within a bound: redis-py may swallow a
        cancellation that lands inside a read, and a shutdown must never hang on it."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=_STOP_WITHIN)
            if not done:
                logger.warning("the credential-change listener did not stop; left behind")
            self._task = None
        await self._client.aclose()

    async def _listen_forever(self) -> None:
        while not self._stopping:
            try:
                await self._listen()
            except _FAILURES as exc:
                self.subscribed.clear()
                if not self._failing:
                    self._failing = True
                    logger.warning(
                        "Redis unreachable (%s: %s); credential changes of other API "
                        "processes take effect when the auth cache expires",
                        type(exc).__name__,
                        exc,
                    )
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._max_backoff, self._backoff * 2)

    async def _listen(self) -> None:
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            # The subscription is confirmed by the first message read: only then is it live.
            await self._read(pubsub)
            self._on_subscribed()
            while not self._stopping:
                await self._read(pubsub)
        finally:
            with contextlib.suppress(*_FAILURES):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read(self, pubsub: PubSub) -> None:
        """The next message, or a PING after `ping_every` of silence; a connection that
        answers neither within the next interval is dead (a silent network failure)."""
        message = await pubsub.get_message(timeout=self._ping_every)
        if message is None:
            await pubsub.ping()
            message = await pubsub.get_message(timeout=self._ping_every)
            if message is None:
                raise ConnectionError("Redis did not answer PING on the subscription")
        self._received(message)

    def _on_subscribed(self) -> None:
        if self._failing:
            self._failing = False
            logger.info("Redis reachable again; credential changes reach this process at once")
        self._backoff = 0.05
        self.subscribed.set()
        # Changes announced while this process was not subscribed were missed.
        self._tell(None)

    def _received(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        try:
            body = json.loads(message["data"])
            if body.get("origin") == self._origin:
                return
            change = CredentialChange(UUID(body["workspace_id"]), UUID(body["actor_id"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignored a malformed credential change: %r", message.get("data"))
            return
        self._tell(change)

    def _tell(self, change: CredentialChange | None) -> None:
        for listener in self._listeners:
            listener(change)
