"""One contract for the CredentialInvalidation port (memory and Redis adapters), and what only
Redis does: reach the other processes, and keep reaching them across outages."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from crm.adapters.memory.credentials import InMemoryCredentialInvalidation
from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.credentials import RedisCredentialInvalidation
from crm.ports.credentials import CredentialChange, CredentialInvalidation
from tests.support.api import closed_port
from tests.support.relay import Relay
from tests.support.servers import redis_server_url

Heard = list[CredentialChange | None]


def change() -> CredentialChange:
    return CredentialChange(uuid.uuid4(), uuid.uuid4())


def changes(heard: Heard) -> list[CredentialChange]:
    """What was heard, without the "forget everything" of each (re)subscription."""
    return [c for c in heard if c is not None]


async def until(condition: Callable[[], bool], within: float) -> None:
    """Return once `condition` holds, or after `within` seconds."""
    for _ in range(int(within * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)


async def eventually(heard: Heard, expected: list[CredentialChange], within: float = 1.0) -> None:
    await until(lambda: changes(heard) == expected, within)
    assert changes(heard) == expected


class CredentialInvalidationContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest.fixture
    def channel(self) -> str:
        """A channel of the test's own, where an adapter has channels."""
        return f"crm:test:credentials:{uuid.uuid4().hex}"

    async def start(self, subject: CredentialInvalidation) -> None:
        """Begin listening (after subscribing), as the container's start does."""

    async def test_this_process_hears_at_once(self, subject: CredentialInvalidation) -> None:
        first, second = Heard(), Heard()
        subject.subscribe(first.append)
        subject.subscribe(second.append)
        await self.start(subject)
        one, two = change(), change()
        await subject.invalidate(one)
        assert changes(first) == changes(second) == [one]
        await subject.invalidate(two)
        assert changes(first) == [one, two]

    async def test_announcing_with_nobody_listening_is_harmless(
        self, subject: CredentialInvalidation
    ) -> None:
        await subject.invalidate(change())


class TestInMemoryCredentialInvalidation(CredentialInvalidationContract):
    @pytest_asyncio.fixture
    async def subject(self, channel: str) -> AsyncIterator[CredentialInvalidation]:
        yield InMemoryCredentialInvalidation()


def redis_subject(url: str, channel: str) -> RedisCredentialInvalidation:
    return RedisCredentialInvalidation(build_redis_client(url), channel=channel, max_backoff=0.2)


async def started(subject: RedisCredentialInvalidation, within: float = 3.0) -> None:
    await subject.start()
    await asyncio.wait_for(subject.subscribed.wait(), within)


class TestRedisCredentialInvalidation(CredentialInvalidationContract):
    @pytest_asyncio.fixture
    async def subject(self, channel: str) -> AsyncIterator[CredentialInvalidation]:
        subject = redis_subject(redis_server_url(), channel)
        yield subject
        await subject.stop()

    async def start(self, subject: CredentialInvalidation) -> None:
        assert isinstance(subject, RedisCredentialInvalidation)
        await started(subject)

    async def test_another_process_hears_within_a_second(self, channel: str) -> None:
        here, there = (
            redis_subject(redis_server_url(), channel),
            redis_subject(redis_server_url(), channel),
        )
        heard_here, heard_there = Heard(), Heard()
        here.subscribe(heard_here.append)
        there.subscribe(heard_there.append)
        try:
            await started(here)
            await started(there)
            announced = change()
            await here.invalidate(announced)
            await eventually(heard_there, [announced])
            # Its own announcement comes back over Redis too; it is not told twice.
            await asyncio.sleep(0.2)
            assert changes(heard_here) == [announced]
        finally:
            await here.stop()
            await there.stop()

    async def test_a_malformed_message_is_ignored(self, channel: str) -> None:
        subject, raw = (
            redis_subject(redis_server_url(), channel),
            build_redis_client(redis_server_url()),
        )
        heard = Heard()
        subject.subscribe(heard.append)
        try:
            await started(subject)
            for junk in (b"not json", b"{}", b'{"workspace_id": "x", "actor_id": "y"}', b"[1]"):
                await raw.publish(channel, junk)
            announced = change()
            await redis_subject(redis_server_url(), channel).invalidate(announced)
            await eventually(heard, [announced])
        finally:
            await subject.stop()
            await raw.aclose()

    async def test_without_redis_this_process_still_hears_and_nothing_raises(
        self, channel: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        subject = redis_subject(f"redis://127.0.0.1:{closed_port()}/0", channel)
        heard = Heard()
        subject.subscribe(heard.append)
        try:
            await subject.start()
            announced = change()
            await subject.invalidate(announced)
            assert heard == [announced]
            assert not subject.subscribed.is_set()
        finally:
            await subject.stop()
        assert any(r.levelno == logging.WARNING for r in caplog.records)

    async def test_it_resubscribes_when_redis_comes_back_and_forgets_what_it_missed(
        self, channel: str
    ) -> None:
        relay = Relay(redis_server_url())
        subject = redis_subject(relay.url(), channel)
        publisher = redis_subject(redis_server_url(), channel)
        heard = Heard()
        subject.subscribe(heard.append)
        try:
            await subject.start()  # Redis is down: it keeps trying
            await asyncio.sleep(0.3)
            await relay.up()
            await asyncio.wait_for(subject.subscribed.wait(), 3)
            first = change()
            await publisher.invalidate(first)
            await eventually(heard, [first])
            await relay.down()  # a restart: every connection cut
            missed = change()
            await publisher.invalidate(missed)
            before = len(heard)
            await relay.up()
            await _resubscribed(subject, heard, before)
            after = change()
            await publisher.invalidate(after)
            await eventually(heard, [first, after])
        finally:
            await subject.stop()
            await publisher.stop()
            await relay.down()


async def _resubscribed(subject: RedisCredentialInvalidation, heard: Heard, before: int) -> None:
    """The subscription is back, and the listeners were told to forget everything."""
    await until(lambda: None in heard[before:], 3)
    assert None in heard[before:]
    assert subject.subscribed.is_set()
