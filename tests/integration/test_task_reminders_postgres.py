"""Task reminders on PostgreSQL: schedulers in several workers send each reminder once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest_asyncio

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.push import InMemoryPushSender
from crm.adapters.postgres.engine import create_engine
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.domain.model.permissions import Role
from crm.domain.model.push import Device, Platform, PushMessage, PushOutcome
from crm.domain.model.task import Priority, Task
from crm.domain.model.workspace import Member, User, Workspace
from crm.domain.use_cases.task_reminders import SendTaskReminders
from crm.ports.unit_of_work import UnitOfWorkFactory

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class SlowSender(InMemoryPushSender):
    """Sends take a moment, so two schedulers really hold their claims at the same time;
    `reached` is set once `expected` messages went out."""

    def __init__(self, expected: int = 0) -> None:
        super().__init__()
        self.expected, self.reached = expected, asyncio.Event()

    async def send(self, tokens: Sequence[str], message: PushMessage) -> PushOutcome:
        await asyncio.sleep(0.02)
        outcome = await super().send(tokens, message)
        if len(self.sent) >= self.expected:
            self.reached.set()
        return outcome


@pytest_asyncio.fixture
async def workers(database_url: str) -> AsyncIterator[list[UnitOfWorkFactory]]:
    """Two workers: each its own engine (its own connections), on the same database."""
    engines = [create_engine(database_url) for _ in range(2)]
    yield [lambda e=e: SqlAlchemyUnitOfWork(e) for e in engines]
    for engine in engines:
        await engine.dispose()


async def seed(uow: UnitOfWorkFactory, tasks: int, people: int = 5) -> tuple[list[UUID], UUID]:
    ws = Workspace(uuid4(), "Acme", NOW)
    users = [
        User(uuid4(), None, f"P{i}", NOW, firebase_uid=f"uid-{uuid4()}") for i in range(people)
    ]
    made: list[UUID] = []
    async with uow() as tx:
        await tx.workspaces.add(ws)
        for user in users:
            await tx.users.add(user)
            await tx.members.add(Member(ws.id, user.id, Role.MEMBER, NOW))
            await tx.devices.register(
                Device(uuid4(), user.id, f"tok-{user.id}", Platform.IOS, None, NOW, NOW)
            )
        for i in range(tasks):
            task = Task(
                id=uuid4(),
                workspace_id=ws.id,
                title=f"Task {i}",
                description=None,
                due_at=NOW + timedelta(minutes=i % 15),
                assignee_id=users[i % people].id,
                priority=Priority.NORMAL,
                done_at=None,
                record_type=None,
                record_id=None,
                created_by=users[0].id,
                created_at=NOW,
                updated_at=NOW,
            )
            await tx.tasks.add(task)
            made.append(task.id)
        await tx.commit()
    return made, ws.id


async def test_two_schedulers_racing_send_each_reminder_exactly_once(
    workers: list[UnitOfWorkFactory], db: asyncpg.Connection
) -> None:
    tasks, _ = await seed(workers[0], 50)
    sender, clock, stop = SlowSender(expected=50), ManualClock(NOW), asyncio.Event()
    schedulers = [SendTaskReminders(uow, sender, clock, 7, 0.01) for uow in workers]
    loops = [asyncio.create_task(s.run(stop)) for s in schedulers]
    await asyncio.wait_for(sender.reached.wait(), 15)
    await asyncio.sleep(0.3)  # time for a duplicate to show, if any could
    stop.set()
    await asyncio.gather(*loops)

    reminded = Counter(UUID(m.data["task_id"]) for _, m in sender.sent)
    assert reminded == Counter(tasks)  # each task once, none twice
    assert {m.data["kind"] for _, m in sender.sent} == {"task_due"}
    unsent = await db.fetchval("SELECT count(*) FROM task_reminder WHERE sent_at IS NULL")
    assert (await db.fetchval("SELECT count(*) FROM task_reminder"), unsent) == (50, 0)


class HeldSender(InMemoryPushSender):
    """Holds every send until `release` is set, so its scheduler keeps its claim open."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = asyncio.Event(), asyncio.Event()

    async def send(self, tokens: Sequence[str], message: PushMessage) -> PushOutcome:
        self.entered.set()
        await self.release.wait()
        return await super().send(tokens, message)


async def test_a_scheduler_holding_a_claim_does_not_hold_up_another(
    workers: list[UnitOfWorkFactory],
) -> None:
    """SKIP LOCKED: the second scheduler takes other reminders instead of waiting."""
    tasks, _ = await seed(workers[0], 20)
    held, free, clock = HeldSender(), InMemoryPushSender(), ManualClock(NOW)
    first = asyncio.create_task(SendTaskReminders(workers[0], held, clock, 5).execute())
    await asyncio.wait_for(held.entered.wait(), 5)
    second = SendTaskReminders(workers[1], free, clock, 50)
    assert await asyncio.wait_for(second.execute(), 5) == 15
    held.release.set()
    assert await first == 5
    reminded = [UUID(m.data["task_id"]) for _, m in held.sent + free.sent]
    assert sorted(reminded) == sorted(tasks)
