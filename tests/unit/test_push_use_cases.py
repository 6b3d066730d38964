"""Push notification rules on the memory adapters: reminders' retries and give-ups, mutes at
send time, dead tokens, the settings' own rules, and what the FCM settings accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.push import InMemoryPushSender
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.domain.errors import InvalidInput
from crm.domain.model.permissions import Role
from crm.domain.model.push import (
    MAX_BODY,
    Device,
    NotificationKind,
    NotificationSettings,
    Platform,
    PushMessage,
)
from crm.domain.model.task import Priority, Task
from crm.domain.model.workspace import Member, User, Workspace
from crm.domain.use_cases.task_reminders import LATE, SendTaskReminders
from crm.settings import Environment, Settings

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock(NOW)
        self.sender = InMemoryPushSender()
        self.reminders = SendTaskReminders(self.uow, self.sender, self.clock)
        self.workspace = uuid4()

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def person(self, *tokens: str) -> UUID:
        user = User(uuid4(), None, "Pat", NOW)
        async with self.uow() as tx:
            if await tx.workspaces.get(self.workspace) is None:
                await tx.workspaces.add(Workspace(self.workspace, "Acme", NOW))
            await tx.users.add(user)
            await tx.members.add(Member(self.workspace, user.id, Role.MEMBER, NOW))
            for token in tokens:
                await tx.devices.register(
                    Device(uuid4(), user.id, token, Platform.IOS, None, NOW, NOW)
                )
            await tx.commit()
        return user.id

    async def task(self, assignee: UUID, due_in: timedelta, title: str = "Call") -> Task:
        task = Task(
            uuid4(),
            self.workspace,
            title,
            None,
            NOW + due_in,
            assignee,
            Priority.NORMAL,
            None,
            None,
            None,
            assignee,
            NOW,
            NOW,
        )
        async with self.uow() as tx:
            await tx.tasks.add(task)
            await tx.commit()
        return task

    async def mute(self, user: UUID) -> None:
        async with self.uow() as tx:
            muted = frozenset({NotificationKind.TASK_DUE})
            await tx.notification_settings.save(
                NotificationSettings(user, muted, version=2, updated_at=NOW), 1
            )
            await tx.commit()


async def test_a_reminder_says_when_the_task_is_due() -> None:
    w = World()
    ada = await w.person("phone")
    task = await w.task(ada, timedelta(minutes=10), title="Send the quote")
    assert await w.reminders.execute() == 1
    [message] = w.sender.to("phone")
    assert (message.title, message.body) == ("Task due in 10 min", "Send the quote")
    assert message.data == {
        "kind": "task_due",
        "workspace_id": str(w.workspace),
        "task_id": str(task.id),
        "due_at": "2026-12-05T12:10:00+00:00",
    }
    assert await w.reminders.execute() == 0


async def test_muting_after_the_reminder_was_planned_still_silences_it() -> None:
    w = World()
    ada = await w.person("phone")
    await w.task(ada, timedelta(minutes=30))
    w.clock.advance(minutes=16)
    async with w.uow() as tx:
        assert await tx.reminders.plan(w.clock.now(), LATE) == 1
        await tx.commit()
    await w.mute(ada)
    assert await w.reminders.execute() == 1  # claimed and done with, not sent
    assert w.sender.sent == []
    assert await w.reminders.execute() == 0


async def test_an_unreachable_device_is_tried_again_until_too_late() -> None:
    w = World()
    ada = await w.person("phone")
    bob = await w.person("tablet")
    await w.task(ada, timedelta(minutes=5))
    await w.task(bob, timedelta(minutes=5))
    w.sender.unreachable.update({"phone", "tablet"})
    assert await w.reminders.execute() == 2
    assert await w.reminders.execute() == 2  # not marked: claimed again
    w.sender.unreachable.discard("phone")
    assert await w.reminders.execute() == 2
    assert len(w.sender.to("phone")) == 1
    assert await w.reminders.execute() == 1  # the tablet's, still unsent
    w.clock.advance(minutes=5 + 61)
    assert await w.reminders.execute() == 1  # given up now
    assert await w.reminders.execute() == 0
    assert w.sender.to("tablet") == []


async def test_dead_tokens_are_pruned_when_reminding() -> None:
    w = World()
    ada = await w.person("dead", "alive")
    w.sender.dead.add("dead")
    await w.task(ada, timedelta(minutes=5))
    await w.reminders.execute()
    assert len(w.sender.to("alive")) == 1
    async with w.uow() as tx:
        assert [d.token for d in await tx.devices.list_for(ada, 10)] == ["alive"]


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (timedelta(0), "now"),
        (timedelta(minutes=-3), "now"),
        (timedelta(minutes=90), "in 90 min"),
        (timedelta(hours=5), "in 5 h"),
        (timedelta(days=3), "in 3 days"),
    ],
)
async def test_how_soon_is_said(left: timedelta, said: str) -> None:
    w = World()
    ada = await w.person("phone")
    async with w.uow() as tx:
        long = NotificationSettings(ada, reminder_lead_minutes=10080, version=2, updated_at=NOW)
        await tx.notification_settings.save(long, 1)
        await tx.commit()
    await w.task(ada, left)
    await w.reminders.execute()
    assert w.sender.to("phone")[0].title == f"Task due {said}"


def test_settings_changes_are_checked() -> None:
    me = NotificationSettings(uuid4())
    assert me.change({}, NOW) is me
    assert me.change({"reminder_lead_minutes": 15, "muted": []}, NOW) is me
    changed = me.change({"muted": ["task_due"]}, NOW)
    assert (changed.version, changed.updated_at) == (2, NOW)
    assert changed.muted == {NotificationKind.TASK_DUE}
    for bad in (
        {"reminder_lead_minutes": 10081},
        {"reminder_lead_minutes": True},
        {"muted": ["nope"]},
        {"muted": 3},
    ):
        with pytest.raises(InvalidInput):
            me.change(bad, NOW)


def test_messages_are_clipped_to_what_a_phone_shows() -> None:
    task = uuid4()
    long = PushMessage.of(NotificationKind.TASK_DUE, "t" * 500, "b" * 500, task, task_id=task)
    assert len(long.title) == 100
    assert len(long.body) == MAX_BODY
    assert long.body.endswith("…")
    assert long.tag == f"task_due:{task}"


def test_fcm_settings() -> None:
    with pytest.raises(ValidationError, match="CRM_FIREBASE_PROJECT_ID"):
        Settings(_env_file=None, fcm_enabled=True)
    with pytest.raises(ValidationError, match="CRM_FCM_URL"):
        Settings(
            _env_file=None,
            env=Environment.PRODUCTION,
            secret_key="s" * 40,
            database_url="postgresql+asyncpg://x/y",
            mailchimp_api_key="key",
            fcm_url="http://127.0.0.1:9999",
        )
    with pytest.raises(ValidationError, match="fcm_url"):
        Settings(_env_file=None, fcm_url="http://127.0.0.1:9999/v1/projects/x")
    assert Settings(_env_file=None, fcm_url="http://127.0.0.1:9").fcm_url == "http://127.0.0.1:9"
