"""One contract for the push notification repositories of the unit of work (devices,
notification settings, task reminders), on memory and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.domain.errors import VersionConflict
from crm.domain.model.permissions import Role
from crm.domain.model.push import (
    Device,
    NotificationKind,
    NotificationSettings,
    Platform,
)
from crm.domain.model.task import Priority, Task
from crm.domain.model.workspace import Member, User, Workspace
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.stores import postgres

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LATE = timedelta(hours=1)


def device(user_id: UUID, token: str, at: datetime = NOW, **fields: object) -> Device:
    values: dict[str, object] = {"platform": Platform.IOS, "app_version": "1.0"}
    values |= fields
    return Device(uuid4(), user_id, token, created_at=at, updated_at=at, **values)  # type: ignore[arg-type]


class PushStorageContract:
    """Each subclass provides `uow` for its adapter, from the fixtures that adapter needs."""

    async def person(self, uow: UnitOfWorkFactory, workspace: UUID | None = None) -> UUID:
        user = User(uuid4(), "p@example.com", "Pat", NOW, firebase_uid=f"uid-{uuid4().hex}")
        async with uow() as tx:
            await tx.users.add(user)
            if workspace is not None:
                await tx.members.add(Member(workspace, user.id, Role.MEMBER, NOW))
            await tx.commit()
        return user.id

    async def workspace(self, uow: UnitOfWorkFactory) -> UUID:
        ws = Workspace(uuid4(), "Acme", NOW)
        async with uow() as tx:
            await tx.workspaces.add(ws)
            await tx.commit()
        return ws.id

    async def register(self, uow: UnitOfWorkFactory, d: Device) -> Device:
        async with uow() as tx:
            stored = await tx.devices.register(d)
            await tx.commit()
        return stored

    async def listed(self, uow: UnitOfWorkFactory, user: UUID) -> list[Device]:
        async with uow() as tx:
            return await tx.devices.list_for(user, 100)

    # --- devices ---------------------------------------------------------------------------

    async def test_registering_a_new_token_stores_it(self, uow: UnitOfWorkFactory) -> None:
        ada = await self.person(uow)
        made = device(ada, "t-1")
        assert await self.register(uow, made) == made
        async with uow() as tx:
            assert await tx.devices.get(ada, made.id) == made
        assert await self.listed(uow, ada) == [made]

    async def test_registering_ones_own_token_again_keeps_its_id(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ada = await self.person(uow)
        first = await self.register(uow, device(ada, "t-1"))
        later = NOW + timedelta(days=1)
        again = device(ada, "t-1", at=later, platform=Platform.ANDROID, app_version=None)
        stored = await self.register(uow, again)
        assert stored == replace(again, id=first.id, created_at=first.created_at)
        assert await self.listed(uow, ada) == [stored]

    async def test_a_token_another_person_held_moves_as_a_new_device(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ada, bob = await self.person(uow), await self.person(uow)
        adas = await self.register(uow, device(ada, "shared"))
        bobs = await self.register(uow, device(bob, "shared", at=NOW + timedelta(hours=1)))
        assert bobs.id != adas.id
        assert bobs.user_id == bob
        assert await self.listed(uow, ada) == []
        assert await self.listed(uow, bob) == [bobs]
        async with uow() as tx:
            assert await tx.devices.get(ada, adas.id) is None
            assert await tx.devices.get(bob, adas.id) is None

    async def test_lists_page_oldest_first_and_hold_only_ones_own(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ada, bob = await self.person(uow), await self.person(uow)
        mine = [
            await self.register(uow, device(ada, f"a-{i}", at=NOW + timedelta(minutes=i)))
            for i in range(5)
        ]
        await self.register(uow, device(bob, "b-1"))
        async with uow() as tx:
            first = await tx.devices.list_for(ada, 2)
            rest = await tx.devices.list_for(ada, 10, (first[-1].created_at, first[-1].id))
        assert first + rest == mine

    async def test_removing_takes_only_ones_own(self, uow: UnitOfWorkFactory) -> None:
        ada, bob = await self.person(uow), await self.person(uow)
        adas = await self.register(uow, device(ada, "a"))
        async with uow() as tx:
            assert await tx.devices.remove(bob, adas.id) is False
            assert await tx.devices.remove(ada, uuid4()) is False
            assert await tx.devices.remove(ada, adas.id) is True
            await tx.commit()
        assert await self.listed(uow, ada) == []

    async def test_keep_newest_drops_the_least_recently_registered(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ada, bob = await self.person(uow), await self.person(uow)
        made = [
            await self.register(uow, device(ada, f"a-{i}", at=NOW + timedelta(minutes=i)))
            for i in range(4)
        ]
        await self.register(uow, device(bob, "b"))
        async with uow() as tx:
            assert await tx.devices.keep_newest(ada, 2) == 2
            await tx.commit()
        assert await self.listed(uow, ada) == made[2:]
        assert len(await self.listed(uow, bob)) == 1

    async def test_dead_tokens_go_whoever_holds_them(self, uow: UnitOfWorkFactory) -> None:
        ada, bob = await self.person(uow), await self.person(uow)
        await self.register(uow, device(ada, "a-dead"))
        keep = await self.register(uow, device(ada, "a-live"))
        await self.register(uow, device(bob, "b-dead"))
        async with uow() as tx:
            assert await tx.devices.remove_tokens(["a-dead", "b-dead", "unknown"]) == 2
            assert await tx.devices.remove_tokens([]) == 0
            await tx.commit()
        assert await self.listed(uow, ada) == [keep]
        assert await self.listed(uow, bob) == []

    # --- notification settings -------------------------------------------------------------

    async def test_settings_default_save_and_conflict(self, uow: UnitOfWorkFactory) -> None:
        ada = await self.person(uow)
        async with uow() as tx:
            assert await tx.notification_settings.get(ada) == NotificationSettings(ada)
        muted = frozenset({NotificationKind.TASK_DUE})
        changed = NotificationSettings(ada, muted, 30, version=2, updated_at=NOW)
        async with uow() as tx:
            await tx.notification_settings.save(changed, 1)
            await tx.commit()
        async with uow() as tx:
            assert await tx.notification_settings.get(ada) == changed
            with pytest.raises(VersionConflict):
                await tx.notification_settings.save(replace(changed, version=3), 1)
        async with uow() as tx:
            later = replace(changed, muted=frozenset(), version=3)
            await tx.notification_settings.save(later, 2)
            await tx.commit()
        async with uow() as tx:
            assert await tx.notification_settings.get(ada) == later

    async def test_a_recipient_is_settings_and_tokens_newest_first(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ada, nobody = await self.person(uow), await self.person(uow)
        await self.register(uow, device(ada, "older"))
        await self.register(uow, device(ada, "newer", at=NOW + timedelta(hours=1)))
        async with uow() as tx:
            found = await tx.notification_settings.recipient(ada)
            alone = await tx.notification_settings.recipient(nobody)
        assert found.tokens == ("newer", "older")
        assert found.settings == NotificationSettings(ada)
        assert found.wants(NotificationKind.TASK_ASSIGNED)
        assert alone.tokens == ()
        assert not alone.wants(NotificationKind.TASK_ASSIGNED)

    # --- task reminders --------------------------------------------------------------------

    async def task(
        self, uow: UnitOfWorkFactory, ws: UUID, assignee: UUID | None, due_in: timedelta | None
    ) -> Task:
        made = Task(
            id=uuid4(),
            workspace_id=ws,
            title=f"Call back {uuid4().hex[:6]}",
            description=None,
            due_at=None if due_in is None else NOW + due_in,
            assignee_id=assignee,
            priority=Priority.NORMAL,
            done_at=None,
            record_type=None,
            record_id=None,
            created_by=uuid4(),
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1),
        )
        async with uow() as tx:
            await tx.tasks.add(made)
            await tx.commit()
        return made

    async def change(self, uow: UnitOfWorkFactory, task: Task, **fields: object) -> Task:
        async with uow() as tx:
            stored = await tx.tasks.get_for_update(task.workspace_id, task.id)
            assert stored is not None
            changed = replace(stored, **fields, version=stored.version + 1)  # type: ignore[arg-type]
            await tx.tasks.save(changed, stored.version)
            await tx.commit()
        return changed

    async def plan(self, uow: UnitOfWorkFactory, now: datetime = NOW) -> int:
        async with uow() as tx:
            planned = await tx.reminders.plan(now, LATE)
            await tx.commit()
        return planned

    async def claim_and_send(self, uow: UnitOfWorkFactory) -> list[tuple[UUID, bool]]:
        async with uow() as tx:
            claimed = await tx.reminders.claim(100)
            await tx.reminders.mark_sent(claimed, NOW)
            await tx.commit()
        return [(r.task_id, r.current) for r in claimed]

    async def someone(self, uow: UnitOfWorkFactory, ws: UUID, lead: int | None = None) -> UUID:
        user = await self.person(uow, ws)
        await self.register(uow, device(user, f"t-{uuid4().hex}"))
        if lead is not None:
            async with uow() as tx:
                settings = NotificationSettings(
                    user, reminder_lead_minutes=lead, version=2, updated_at=NOW
                )
                await tx.notification_settings.save(settings, 1)
                await tx.commit()
        return user

    async def test_a_reminder_is_planned_once_when_its_time_came(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ws = await self.workspace(uow)
        ada = await self.someone(uow, ws)
        soon = await self.task(uow, ws, ada, timedelta(minutes=10))
        await self.task(uow, ws, ada, timedelta(minutes=20))  # default lead 15: not yet
        assert await self.plan(uow) == 1
        assert await self.plan(uow) == 0
        async with uow() as tx:
            claimed = await tx.reminders.claim(10)
        assert [(r.task_id, r.due_at, r.user_id, r.workspace_id) for r in claimed] == [
            (soon.id, soon.due_at, ada, ws)
        ]
        assert claimed[0].title == soon.title
        assert claimed[0].current
        assert await self.claim_and_send(uow) == [(soon.id, True)]
        assert await self.claim_and_send(uow) == []
        assert await self.plan(uow) == 0
        assert await self.plan(uow, NOW + timedelta(minutes=5)) == 1  # the other one's time

    async def test_each_persons_lead_time_counts(self, uow: UnitOfWorkFactory) -> None:
        ws = await self.workspace(uow)
        early, prompt = await self.someone(uow, ws, lead=120), await self.someone(uow, ws, lead=0)
        plain = await self.someone(uow, ws)
        planned = {
            (await self.task(uow, ws, early, timedelta(minutes=90))).id,
            (await self.task(uow, ws, prompt, timedelta(minutes=-1))).id,
            (await self.task(uow, ws, plain, timedelta(minutes=15))).id,
        }
        await self.task(uow, ws, early, timedelta(minutes=121))
        await self.task(uow, ws, prompt, timedelta(minutes=1))
        await self.task(uow, ws, plain, timedelta(minutes=16))
        assert await self.plan(uow) == 3
        assert {task for task, _ in await self.claim_and_send(uow)} == planned

    async def test_no_reminder_for_whom_it_would_not_reach(self, uow: UnitOfWorkFactory) -> None:
        ws = await self.workspace(uow)
        ada = await self.someone(uow, ws)
        deviceless = await self.person(uow, ws)
        outsider = await self.person(uow)  # no member of the workspace
        await self.register(uow, device(outsider, "outsider"))
        muting = await self.someone(uow, ws)
        async with uow() as tx:
            muted = NotificationSettings(
                muting, frozenset({NotificationKind.TASK_DUE}), version=2, updated_at=NOW
            )
            await tx.notification_settings.save(muted, 1)
            await tx.commit()
        soon = timedelta(minutes=5)
        await self.task(uow, ws, deviceless, soon)
        await self.task(uow, ws, outsider, soon)
        await self.task(uow, ws, muting, soon)
        await self.task(uow, ws, None, soon)
        await self.task(uow, ws, ada, None)
        await self.task(uow, ws, ada, -LATE - timedelta(minutes=1))  # too long overdue
        done = await self.task(uow, ws, ada, soon)
        await self.change(uow, done, done_at=NOW)
        assert await self.plan(uow) == 0

    async def test_rescheduled_reassigned_done_and_deleted_tasks(
        self, uow: UnitOfWorkFactory
    ) -> None:
        ws = await self.workspace(uow)
        ada, bob = await self.someone(uow, ws), await self.someone(uow, ws)
        moved = await self.task(uow, ws, ada, timedelta(minutes=5))
        handed = await self.task(uow, ws, ada, timedelta(minutes=5))
        done = await self.task(uow, ws, ada, timedelta(minutes=5))
        deleted = await self.task(uow, ws, ada, timedelta(minutes=5))
        assert await self.plan(uow) == 4
        await self.change(uow, moved, due_at=NOW + timedelta(minutes=10))
        await self.change(uow, handed, assignee_id=bob)
        await self.change(uow, done, done_at=NOW)
        async with uow() as tx:
            await tx.tasks.remove(deleted)
            await tx.commit()
        sent = dict(await self.claim_and_send(uow))
        assert sent == {moved.id: False, handed.id: False, done.id: False}
        assert await self.plan(uow) == 2  # the new due time, the new assignee
        assert dict(await self.claim_and_send(uow)) == {moved.id: True, handed.id: True}

    async def test_purge_forgets_reminders_of_old_due_times(self, uow: UnitOfWorkFactory) -> None:
        ws = await self.workspace(uow)
        ada = await self.someone(uow, ws)
        old = await self.task(uow, ws, ada, timedelta(minutes=-30))
        await self.task(uow, ws, ada, timedelta(minutes=5))
        assert await self.plan(uow) == 2
        await self.claim_and_send(uow)
        async with uow() as tx:
            assert await tx.reminders.purge(NOW) == 1
            await tx.commit()
        # Forgotten, so planned again: the scheduler purges only due times past LATE.
        assert await self.plan(uow) == 1
        async with uow() as tx:
            assert [r.task_id for r in await tx.reminders.claim(10)] == [old.id]


class TestInMemoryPushStorage(PushStorageContract):
    @pytest_asyncio.fixture
    async def uow(self) -> AsyncIterator[UnitOfWorkFactory]:
        store = MemoryStore()
        yield lambda: InMemoryUnitOfWork(store)


class TestPostgresPushStorage(PushStorageContract):
    @pytest_asyncio.fixture
    async def uow(self, database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
        async with postgres(database_url) as (make_uow, _pool):
            yield make_uow
