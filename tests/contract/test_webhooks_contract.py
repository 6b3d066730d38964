"""One contract for the webhook repositories (subscriptions, deliveries), on memory and Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import VersionConflict
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.webhook_deliveries import DeliveryStatus, WebhookDelivery
from crm.domain.model.webhooks import WebhookSubscription
from crm.domain.pagination import PageRequest, SortOrder
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.stores import new_workspace, postgres

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
IDS = Uuid7Generator()
WINDOW = timedelta(days=3)


def subscription(workspace: UUID, n: int = 0, **fields: Any) -> WebhookSubscription:
    values: dict[str, Any] = {
        "id": IDS.new_id(),
        "workspace_id": workspace,
        "url": f"https://hooks.example.com/{n}",
        "event_types": ("contact.*",),
        "fields": None,
        "description": None,
        "secret": f"whsec_{n}",
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return WebhookSubscription(**values)


def delivery(s: WebhookSubscription, n: int = 0, **fields: Any) -> WebhookDelivery:
    event = PublishedEvent(
        id=IDS.new_id(),
        type="contact.updated",
        workspace_id=s.workspace_id,
        aggregate_type="contact",
        aggregate_id=uuid4(),
        actor_id=None,
        occurred_at=T0,
    )
    made = WebhookDelivery.new(
        IDS.new_id(), s, event, f'{{"n":{n}}}', T0 + timedelta(seconds=n), WINDOW
    )
    return replace(made, **fields)


class WebhooksContract:
    """Each subclass provides `uow` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, uow: UnitOfWorkFactory) -> UUID:
        return await new_workspace(uow)

    async def add(
        self,
        uow: UnitOfWorkFactory,
        *subs: WebhookSubscription,
        deliveries: tuple[WebhookDelivery, ...] = (),
    ) -> None:
        async with uow() as tx:
            for s in subs:
                await tx.webhook_subscriptions.add(s)
            await tx.webhook_deliveries.add(list(deliveries))
            await tx.commit()

    async def test_a_subscription_reads_back_as_written(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        s = subscription(workspace, fields=("email", "custom_fields.plan"), description="d")
        await self.add(uow, s)
        other = await new_workspace(uow, "Other")
        async with uow() as tx:
            assert await tx.webhook_subscriptions.get(workspace, s.id) == s
            assert await tx.webhook_subscriptions.get_for_update(workspace, s.id) == s
            assert await tx.webhook_subscriptions.get(other, s.id) is None
            assert await tx.webhook_subscriptions.lock_many([s.id, uuid4()]) == [s]

    async def test_save_checks_the_version_and_healthy_clears_failures_only(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        failing = subscription(workspace, 1, failing_since=T0)
        fine = subscription(workspace, 2)
        await self.add(uow, failing, fine)
        changed = replace(fine, url="https://elsewhere.example/", version=2)
        async with uow() as tx:
            await tx.webhook_subscriptions.save(changed, expected_version=1)
            await tx.webhook_subscriptions.mark_healthy([failing.id, fine.id])
            await tx.commit()
        async with uow() as tx:
            assert await tx.webhook_subscriptions.get(workspace, fine.id) == changed
            healed = await tx.webhook_subscriptions.get(workspace, failing.id)
            assert healed == replace(failing, failing_since=None)
            with pytest.raises(VersionConflict):
                await tx.webhook_subscriptions.save(replace(changed, version=3), 1)

    async def test_lists_oldest_first_in_pages(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        subs = [subscription(workspace, n) for n in (3, 1, 2, 0)]
        await self.add(uow, *subs, subscription(await new_workspace(uow, "Other"), 9))
        seen: list[str] = []
        page = PageRequest(limit=3, order=SortOrder.OLDEST_FIRST)
        async with uow() as tx:
            while True:
                found = await tx.webhook_subscriptions.list(workspace, page)
                seen += [s.url for s in found.items]
                if found.next is None:
                    break
                page = replace(page, after=found.next)
        assert seen == [f"https://hooks.example.com/{n}" for n in range(4)]

    async def test_matching_takes_enabled_subscriptions_whose_patterns_match(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        every = subscription(workspace, 0, event_types=("*",))
        prefix = subscription(workspace, 1, event_types=("deal.*", "contact.*"))
        exact = subscription(workspace, 2, event_types=("contact.updated",))
        other_type = subscription(workspace, 3, event_types=("contact.created", "deal.*"))
        paused = subscription(workspace, 4, event_types=("*",), enabled=False)
        elsewhere = subscription(await new_workspace(uow, "Other"), 5, event_types=("*",))
        await self.add(uow, every, prefix, exact, other_type, paused, elsewhere)
        async with uow() as tx:
            found = await tx.webhook_subscriptions.matching(workspace, "contact.updated")
            assert {s.id for s in found} == {every.id, prefix.id, exact.id}
            found = await tx.webhook_subscriptions.matching(workspace, "deal.moved")
            assert {s.id for s in found} == {every.id, prefix.id, other_type.id}

    async def test_deliveries_are_unique_per_event_and_go_with_their_subscription(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        s, kept = subscription(workspace, 0), subscription(workspace, 1)
        d = delivery(s)
        twice = replace(d, id=IDS.new_id())
        other = delivery(kept)
        await self.add(uow, s, kept, deliveries=(d, twice, other))
        async with uow() as tx:
            assert await tx.webhook_deliveries.lock_many([d.id, twice.id, other.id]) == sorted(
                [d, other], key=lambda x: x.id
            )
            await tx.webhook_subscriptions.remove(s)
            await tx.commit()
        async with uow() as tx:
            assert await tx.webhook_deliveries.lock_many([d.id, other.id]) == [other]

    async def test_claims_take_due_deliveries_of_enabled_subscriptions_once(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        s, paused = subscription(workspace, 0), subscription(workspace, 1, enabled=False)
        due = [delivery(s, n) for n in range(5)]
        later = delivery(s, 6, next_attempt_at=T0 + timedelta(hours=1))
        done = delivery(s, 7, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
        held = delivery(paused, 8)
        await self.add(uow, s, paused, deliveries=(*due, later, done, held))
        now, lease = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)

        async def claim(limit: int) -> list[UUID]:
            async with uow() as tx:
                claimed = await tx.webhook_deliveries.claim_due(now, limit, lease)
                await tx.commit()
            assert all(sub == s for _, sub in claimed)
            assert all(d.next_attempt_at == lease for d, _ in claimed)
            return [d.id for d, _ in claimed]

        first, second = await asyncio.gather(claim(3), claim(3))
        assert sorted(first + second) == sorted(d.id for d in due)
        assert await claim(10) == []

    async def test_save_lock_get_and_newest_first_log(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        s = subscription(workspace)
        ds = [delivery(s, n) for n in range(5)]
        await self.add(uow, s, deliveries=tuple(ds))
        tried = replace(
            ds[0],
            attempts=2,
            status_code=503,
            latency_ms=12,
            error="HTTP 503",
            last_attempt_at=T0,
            next_attempt_at=T0 + timedelta(seconds=30),
        )
        async with uow() as tx:
            await tx.webhook_deliveries.save([tried])
            await tx.commit()
        other = await new_workspace(uow, "Other")
        async with uow() as tx:
            assert await tx.webhook_deliveries.get_for_update(workspace, s.id, tried.id) == tried
            assert await tx.webhook_deliveries.get_for_update(other, s.id, tried.id) is None
            assert await tx.webhook_deliveries.get_for_update(workspace, uuid4(), tried.id) is None
            seen: list[UUID] = []
            page = PageRequest(limit=2, order=SortOrder.NEWEST_FIRST)
            while True:
                found = await tx.webhook_deliveries.list(workspace, s.id, page)
                seen += [d.id for d in found.items]
                if found.next is None:
                    break
                page = replace(page, after=found.next)
            assert seen == [d.id for d in reversed(ds)]

    async def test_purge_drops_old_finished_deliveries_only(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        s = subscription(workspace)
        old_done = delivery(s, 0, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
        old_failed = delivery(s, 1, status=DeliveryStatus.FAILED, next_attempt_at=None)
        old_pending = delivery(s, 2)
        new_done = delivery(s, 100, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
        await self.add(uow, s, deliveries=(old_done, old_failed, old_pending, new_done))
        async with uow() as tx:
            assert await tx.webhook_deliveries.purge(T0 + timedelta(seconds=50), 10) == 2
            await tx.commit()
        async with uow() as tx:
            left = await tx.webhook_deliveries.lock_many(
                [old_done.id, old_failed.id, old_pending.id, new_done.id]
            )
        assert {d.id for d in left} == {old_pending.id, new_done.id}


class TestInMemory(WebhooksContract):
    @pytest_asyncio.fixture
    async def uow(self) -> AsyncIterator[UnitOfWorkFactory]:
        store = MemoryStore()
        yield lambda: InMemoryUnitOfWork(store)


class TestPostgres(WebhooksContract):
    @pytest_asyncio.fixture
    async def uow(self, database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
        async with postgres(database_url) as (factory, _):
            yield factory
