"""One contract for the task ports (repository, reader), on memory and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.memory.tasks import InMemoryTaskReader
from crm.adapters.postgres.tasks import AsyncpgTaskReader
from crm.domain.errors import VersionConflict
from crm.domain.model.note import RecordType
from crm.domain.model.task import DuePosition, Priority, Task, TaskFilter
from crm.domain.model.workspace import Workspace
from crm.ports.tasks import TaskReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import IDS, T0, contact
from tests.support.stores import postgres

EVERY = TaskFilter()


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    tasks: TaskReader


def task(workspace_id: UUID, n: int = 0, **fields: Any) -> Task:
    at = T0 + timedelta(seconds=n)
    values: dict[str, Any] = {
        "title": f"Task {n}",
        "description": "Details",
        "due_at": None,
        "assignee_id": None,
        "priority": Priority.HIGH,
        "done_at": None,
        "record_type": None,
        "record_id": None,
        "created_by": uuid4(),
        "created_at": at,
        "updated_at": at,
    }
    values.update(fields)
    return Task(IDS.new_id(), workspace_id, **values)


class TaskContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        ws = Workspace(IDS.new_id(), "Acme", T0)
        async with subject.uow() as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        return ws.id

    async def add(self, subject: Subject, *tasks: Task) -> None:
        async with subject.uow() as uow:
            for t in tasks:
                await uow.tasks.add(t)
            await uow.commit()

    async def titles(
        self, subject: Subject, workspace: UUID, where: TaskFilter = EVERY, limit: int = 2
    ) -> list[str]:
        seen: list[str] = []
        after: DuePosition | None = None
        while True:
            page = await subject.tasks.list(workspace, where, limit, after)
            seen += [t.title for t in page.items]
            if page.next is None:
                return seen
            after = page.next

    async def test_a_task_reads_back_as_written(self, subject: Subject, workspace: UUID) -> None:
        t = task(workspace, due_at=T0, done_at=T0)
        await self.add(subject, t)
        assert await subject.tasks.get(workspace, t.id) == t
        async with subject.uow() as uow:
            assert await uow.tasks.get_for_update(workspace, t.id) == t
        assert await subject.tasks.get(uuid4(), t.id) is None

    async def test_save_checks_the_version(self, subject: Subject, workspace: UUID) -> None:
        t = task(workspace)
        await self.add(subject, t)
        changed = replace(t, title="Changed", done_at=T0, version=2)
        async with subject.uow() as uow:
            await uow.tasks.save(changed, expected_version=1)
            await uow.commit()
        assert await subject.tasks.get(workspace, t.id) == changed
        async with subject.uow() as uow:
            with pytest.raises(VersionConflict):
                await uow.tasks.save(replace(changed, version=3), expected_version=1)

    async def test_due_first_none_last_across_pages(
        self, subject: Subject, workspace: UUID
    ) -> None:
        hours = [None, 5, -3, None, 1, 1, None]
        tasks = [
            task(workspace, i, due_at=None if h is None else T0 + timedelta(hours=h))
            for i, h in enumerate(hours)
        ]
        await self.add(subject, *tasks)
        expected = ["Task 2", "Task 4", "Task 5", "Task 1", "Task 0", "Task 3", "Task 6"]
        for limit in (1, 2, 3, 10):
            assert await self.titles(subject, workspace, limit=limit) == expected

    async def test_filters(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace)
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.commit()
        someone = uuid4()
        a = task(workspace, 1, assignee_id=None, record_type=RecordType.CONTACT, record_id=c.id)
        b = task(workspace, 2, done_at=T0)
        await self.add(subject, a, b)
        assert await self.titles(subject, workspace, TaskFilter(done=False)) == ["Task 1"]
        assert await self.titles(subject, workspace, TaskFilter(done=True)) == ["Task 2"]
        on_c = TaskFilter(record_type=RecordType.CONTACT, record_id=c.id)
        assert await self.titles(subject, workspace, on_c) == ["Task 1"]
        assert await self.titles(subject, workspace, TaskFilter(assignee_id=someone)) == []
        no_contacts = TaskFilter(hidden=(RecordType.CONTACT, RecordType.DEAL))
        assert await self.titles(subject, workspace, no_contacts) == ["Task 2"]
        no_deals = TaskFilter(hidden=(RecordType.DEAL,))
        assert await self.titles(subject, workspace, no_deals) == ["Task 1", "Task 2"]

    async def test_remove_and_detach(self, subject: Subject, workspace: UUID) -> None:
        c = contact(workspace)
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.commit()
        a = task(workspace, 1, record_type=RecordType.CONTACT, record_id=c.id)
        b = task(workspace, 2)
        await self.add(subject, a, b)
        later = T0 + timedelta(days=1)
        async with subject.uow() as uow:
            await uow.tasks.detach_record(workspace, RecordType.CONTACT, c.id, later)
            await uow.tasks.remove(b)
            await uow.commit()
        detached = replace(a, record_type=None, record_id=None, updated_at=later, version=2)
        assert await subject.tasks.get(workspace, a.id) == detached
        assert await subject.tasks.get(workspace, b.id) is None


class TestInMemory(TaskContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store), InMemoryTaskReader(store))


class TestPostgres(TaskContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgTaskReader(pool))
