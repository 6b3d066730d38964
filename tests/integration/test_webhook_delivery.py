"""Webhook deliveries over real HTTP: the aiohttp sender against a local receiver that fails,
hangs, redirects, answers 410 or a huge body; signatures checked with the README's code; the
address guard at delivery time; a clock the test moves instead of waiting for retries."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest_asyncio

from crm.adapters.http.webhook_sender import AiohttpWebhookSender
from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.resolver import StaticResolver
from crm.adapters.system.resolver import SystemResolver
from crm.domain.model.permissions import Principal
from crm.domain.model.webhook_deliveries import DeliveryStatus, WebhookDelivery
from crm.domain.model.webhook_targets import TargetPolicy
from crm.domain.pagination import PageRequest, SortOrder
from tests.support.webhook_receiver import Answer, Receiver, until, webhook_receiver
from tests.support.webhook_world import PUBLIC, WebhookWorld, published

README = Path(__file__).resolve().parents[2] / "README.md"
Verify = Callable[..., bool]


def readme_verify() -> Verify:
    """The README's Python verification function, executed as it is written there."""
    text = README.read_text()
    found = re.search(r"<!-- webhook-verify-python -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its Python verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "README.md", "exec"), namespace)  # noqa: S102 (our README)
    verify: Verify = namespace["verify_webhook"]
    return verify


def world_on(
    resolver: StaticResolver, *, allow_private: bool = True, timeout: float = 2.0
) -> WebhookWorld:
    """On a clock starting now: receivers check signatures against their own clock."""
    sender = AiohttpWebhookSender(resolver, TargetPolicy(allow_private=allow_private), timeout)
    clock = ManualClock(datetime.now(UTC))
    return WebhookWorld(sender=sender, resolver=resolver, clock=clock, allow_private=allow_private)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest_asyncio.fixture
async def world() -> AsyncIterator[WebhookWorld]:
    made = world_on(StaticResolver(fallback=SystemResolver()))
    yield made
    await made.sender.close()


async def only(world: WebhookWorld, who: Principal, sub: UUID) -> WebhookDelivery:
    page = PageRequest(limit=10, order=SortOrder.NEWEST_FIRST)
    (delivery,) = (await world.deliveries.execute(who, sub, page)).items
    return delivery


async def test_the_readmes_python_verifies_real_deliveries_also_across_a_rotation(
    world: WebhookWorld, receiver: Receiver
) -> None:
    verify = readme_verify()
    who = await world.workspace()
    sub, secret = await world.subscribe(who, url=receiver.url)
    await world.ping.execute(who, sub)
    await world.deliver.execute()
    (got,) = await receiver.wait_for(1)
    header = got.headers["CRM-Signature"]
    assert verify(got.body, header, secret)
    assert not verify(got.body + b" ", header, secret)
    assert not verify(got.body, header, secret + "x")
    assert not verify(got.body, header.replace("t=", "t=1"), secret)  # another time

    _, rotated = await world.rotate.execute(who, sub)
    await world.ping.execute(who, sub)
    await world.deliver.execute()
    _, second = await receiver.wait_for(2)
    assert second.headers["CRM-Signature"].count("v1=") == 2
    assert verify(second.body, second.headers["CRM-Signature"], rotated)
    assert verify(second.body, second.headers["CRM-Signature"], secret)
    body = json.loads(second.body)
    assert second.headers["CRM-Event-ID"] == body["id"]
    assert second.headers["CRM-Event-Type"] == "ping"
    assert second.headers["User-Agent"] == "CRM-Webhooks/1.0"
    assert second.headers["Content-Type"] == "application/json"


async def test_failures_are_retried_with_growing_backoff_until_one_succeeds(
    world: WebhookWorld, receiver: Receiver
) -> None:
    world.jitter = 0.99
    who = await world.workspace()
    sub, secret = await world.subscribe(who, url=receiver.url)
    receiver.fail(3, status=503)
    await world.handle(published(who, "contact.created"))
    gaps: list[float] = []
    for attempt in range(1, 5):
        assert await world.deliver.execute() == 1
        await receiver.wait_for(attempt)
        d = await only(world, who, sub)
        if d.next_attempt_at is None:
            break
        gaps.append((d.next_attempt_at - world.clock.now()).total_seconds())
        assert await world.deliver.execute() == 0  # not before it is due
        world.clock.advance(seconds=gaps[-1])
    assert gaps == [9.9, 19.8, 39.6]
    d = await only(world, who, sub)
    assert (d.status, d.attempts, d.status_code) == (DeliveryStatus.SUCCEEDED, 4, 200)
    got = await receiver.wait_for(4)
    assert len({g.body for g in got}) == 1
    verify = readme_verify()
    assert all(verify(g.body, g.headers["CRM-Signature"], secret, 10**9) for g in got)


async def test_a_receiver_slower_than_the_timeout_fails_the_attempt_in_time(
    receiver: Receiver,
) -> None:
    world = world_on(StaticResolver(), timeout=0.3)
    who = await world.workspace()
    sub, _ = await world.subscribe(who, url=receiver.url)
    receiver.answer(Answer(delay=2.0))
    await world.handle(published(who, "contact.created"))
    started = time.monotonic()
    await world.deliver.execute()
    assert time.monotonic() - started < 1.5
    d = await only(world, who, sub)
    assert (d.status, d.status_code, d.error) == (
        DeliveryStatus.PENDING,
        None,
        "timed out after 0.3 s",
    )
    assert d.latency_ms is not None
    assert 250 <= d.latency_ms < 1500
    await world.sender.close()


async def test_redirects_are_not_followed(world: WebhookWorld, receiver: Receiver) -> None:
    who = await world.workspace()
    sub, _ = await world.subscribe(who, url=receiver.url)
    elsewhere = (("Location", receiver.url + "/elsewhere"),)
    receiver.answer(Answer(302, headers=elsewhere), Answer(307, headers=elsewhere))
    await world.handle(published(who, "contact.created"))
    await world.deliver.execute()
    d = await only(world, who, sub)
    assert (d.status, d.status_code, d.error) == (
        DeliveryStatus.PENDING,
        302,
        "HTTP 302: redirects are not followed",
    )
    world.clock.advance(hours=1)
    await world.deliver.execute()
    assert (await only(world, who, sub)).status_code == 307
    assert [r.path for r in receiver.received] == ["/hook", "/hook"]


async def test_410_disables_the_subscription(world: WebhookWorld, receiver: Receiver) -> None:
    who = await world.workspace()
    sub, _ = await world.subscribe(who, url=receiver.url)
    receiver.answer(Answer(410))
    await world.handle(published(who, "contact.created"))
    await world.deliver.execute()
    d = await only(world, who, sub)
    assert (d.status, d.status_code) == (DeliveryStatus.FAILED, 410)
    async with world.uow() as tx:
        s = await tx.webhook_subscriptions.get(who.workspace_id, sub)
    assert s is not None
    assert (s.enabled, s.disabled_reason) == (False, "gone")


async def test_a_huge_answer_is_cut_off_after_a_few_kilobytes(
    world: WebhookWorld, receiver: Receiver
) -> None:
    who = await world.workspace()
    sub, _ = await world.subscribe(who, url=receiver.url)
    huge = 256 * 1024 * 1024
    receiver.answer(Answer(200, body_bytes=huge))
    await world.handle(published(who, "contact.created"))
    started = time.monotonic()
    await world.deliver.execute()
    assert time.monotonic() - started < 3
    assert (await only(world, who, sub)).status is DeliveryStatus.SUCCEEDED
    assert await until(lambda: receiver.bytes_sent)
    (sent,) = receiver.bytes_sent
    assert sent < 64 * 1024 * 1024  # the client hung up long before the end


async def test_a_name_pointing_inside_at_delivery_time_is_refused(receiver: Receiver) -> None:
    resolver = StaticResolver({"hooks.example.com": [PUBLIC]})
    world = world_on(resolver, allow_private=False)
    who = await world.workspace()
    url = f"https://hooks.example.com:{receiver.port}/hook"
    sub, _ = await world.subscribe(who, url=url)  # public when it was saved
    for inside in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1"):
        resolver.point("hooks.example.com", inside)
        await world.ping.execute(who, sub)
        await world.deliver.execute()
    page = PageRequest(limit=10, order=SortOrder.NEWEST_FIRST)
    log = (await world.deliveries.execute(who, sub, page)).items
    assert len(log) == 4
    for d in log:
        assert d.status_code is None
        assert d.error is not None
        assert d.error.startswith("address refused: hooks.example.com resolves to "), d.error
    assert receiver.received == []
    await world.sender.close()


async def test_the_connection_goes_to_the_resolved_address_with_the_name_as_host(
    receiver: Receiver,
) -> None:
    # No DNS knows receiver.test: only a connection pinned to what the resolver said arrives.
    world = world_on(StaticResolver({"receiver.test": ["127.0.0.1"]}))
    who = await world.workspace()
    sub, _ = await world.subscribe(who, url=f"http://receiver.test:{receiver.port}/hook")
    await world.ping.execute(who, sub)
    await world.deliver.execute()
    (got,) = await receiver.wait_for(1)
    assert got.headers["Host"] == f"receiver.test:{receiver.port}"
    assert (await only(world, who, sub)).status is DeliveryStatus.SUCCEEDED
    await world.sender.close()


async def test_a_delivery_waits_out_its_lease_when_its_outcome_was_lost(
    world: WebhookWorld, receiver: Receiver
) -> None:
    who = await world.workspace()
    sub, _ = await world.subscribe(who, url=receiver.url)
    await world.handle(published(who, "contact.created"))
    async with world.uow() as tx:  # a worker claims it, then dies before recording
        (claimed,) = await tx.webhook_deliveries.claim_due(
            world.clock.now(), 10, world.clock.now() + timedelta(seconds=60)
        )
        await tx.commit()
    assert await world.deliver.execute() == 0
    world.clock.advance(seconds=60)
    assert await world.deliver.execute() == 1
    assert (await only(world, who, sub)).status is DeliveryStatus.SUCCEEDED
    assert claimed[0].id == (await only(world, who, sub)).id
