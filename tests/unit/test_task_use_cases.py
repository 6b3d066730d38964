"""Task use cases on the memory adapters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.memory.tasks import InMemoryTaskReader
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    CompanyNotFound,
    ContactNotFound,
    InvalidInput,
    InvalidQuery,
    TaskNotFound,
    VersionConflict,
)
from crm.domain.model.events import TaskCompleted, TaskCreated, TaskReopened, TaskUpdated
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import (
    ActorKind,
    MissingScope,
    PersonRequired,
    Principal,
    Role,
    RoleForbids,
    Scope,
)
from crm.domain.model.task import DuePosition, Priority, Task
from crm.domain.model.workspace import Member, User
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import tasks as tk
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.delete_contact import DeleteContact, DeleteContactCommand


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        reader = InMemoryTaskReader(self.store)
        self.create = tk.CreateTask(uow, self.clock, ids)
        self.update = tk.UpdateTask(uow, self.clock, ids)
        self.complete = tk.CompleteTask(uow, self.clock, ids)
        self.reopen = tk.ReopenTask(uow, self.clock, ids)
        self.delete = tk.DeleteTask(uow, self.clock, ids)
        self.get = tk.GetTask(reader)
        self.list = tk.ListTasks(reader)
        self.mine = tk.ListMyTasks(reader)
        self.create_contact = CreateContact(uow, self.clock, ids, phones)
        self.delete_contact = DeleteContact(uow, self.clock, ids)
        self.create_company = co.CreateCompany(uow, self.clock, ids, phones)
        self.ws = uuid4()
        self.admin = self.person(Role.ADMIN)

    def person(self, role: Role) -> Principal:
        who = Principal(self.ws, uuid4(), ActorKind.USER, role=role)
        now = self.clock.now()
        self.store.state.users[who.actor_id] = User(who.actor_id, "x@example.com", "X", now)
        member = Member(self.ws, who.actor_id, role, now)
        self.store.state.members[(self.ws, who.actor_id)] = member
        return who

    def key(self, *scopes: Scope) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))

    async def contact(self) -> UUID:
        cmd = CreateContactCommand(self.admin, {"first_name": "Ada"})
        return (await self.create_contact.execute(cmd)).id

    async def task(self, who: Principal | None = None, **fields: Any) -> Task:
        fields.setdefault("title", "Call back")
        return await self.create.execute(tk.CreateTaskCommand(who or self.admin, fields))


@pytest.fixture
def world() -> World:
    return World()


async def test_a_task_is_created_open_with_defaults(world: World) -> None:
    task = await world.task(title="  Call Ada  ")
    assert (task.title, task.priority, task.done_at, task.created_by, task.version) == (
        "Call Ada",
        Priority.NORMAL,
        None,
        world.admin.actor_id,
        1,
    )
    assert world.store.state.tasks[task.id] == task
    assert isinstance(world.store.state.outbox[-1], TaskCreated)


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"title": " "}, "/title"),
        ({"title": "x" * 301}, "/title"),
        ({"priority": "urgent"}, "/priority"),
        ({"assignee_id": uuid4()}, "/assignee_id"),
        ({"record_type": "contact"}, "/record_id"),
    ],
)
async def test_bad_tasks_are_refused(world: World, fields: dict[str, Any], pointer: str) -> None:
    with pytest.raises(InvalidInput) as e:
        await world.task(**fields)
    assert e.value.errors[0].field == pointer
    assert world.store.state.tasks == {}


async def test_a_task_about_a_missing_record_is_not_found(world: World) -> None:
    with pytest.raises(ContactNotFound):
        await world.task(record_type="contact", record_id=uuid4())
    contact = await world.contact()
    with pytest.raises(CompanyNotFound):
        await world.task(record_type="company", record_id=contact)
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(ContactNotFound):
        await world.task(stranger, record_type="contact", record_id=contact)
    assert world.store.state.tasks == {}


async def test_my_open_tasks_list_overdue_first_nulls_last_in_pages(world: World) -> None:
    me = world.person(Role.MEMBER)
    now = world.clock.now()
    due = {
        "later": now + timedelta(days=2),
        "overdue": now - timedelta(days=1),
        "soon": now + timedelta(hours=1),
    }
    made = {}
    for title in ("no due 1", "later", "overdue", "no due 2", "soon", "done"):
        at = due.get(title)
        made[title] = await world.task(title=title, due_at=at, assignee_id=me.actor_id)
    await world.task(title="someone else's", due_at=now - timedelta(days=9))
    await world.complete.execute(tk.TaskCommand(world.admin, made["done"].id))
    seen: list[str] = []
    after: DuePosition | None = None
    while True:
        page = await world.mine.execute(me, 2, after)
        seen += [t.title for t in page.items]
        if page.next is None:
            break
        after = DuePosition.decode(page.next.encode())
    assert seen == ["overdue", "soon", "later", "no due 1", "no due 2"]


async def test_list_filters(world: World) -> None:
    me = world.person(Role.MEMBER)
    contact = await world.contact()
    mine = await world.task(assignee_id=me.actor_id, record_type="contact", record_id=contact)
    other = await world.task()
    await world.complete.execute(tk.TaskCommand(world.admin, other.id))

    async def titles(**kw: Any) -> list[UUID]:
        return [t.id for t in (await world.list.execute(me, 50, None, **kw)).items]

    assert await titles(assignee="me") == [mine.id]
    assert await titles(assignee=str(me.actor_id)) == [mine.id]
    assert await titles(status="done") == [other.id]
    assert await titles(status="open") == [mine.id]
    assert await titles(record_type=RecordType.CONTACT, record_id=contact) == [mine.id]
    assert set(await titles()) == {mine.id, other.id}
    with pytest.raises(InvalidQuery):
        await titles(assignee="someone")
    with pytest.raises(InvalidQuery):
        await titles(record_type=RecordType.CONTACT)


async def test_me_needs_a_person(world: World) -> None:
    key = world.key(Scope.ADMIN)
    with pytest.raises(PersonRequired):
        await world.list.execute(key, 50, None, assignee="me")
    with pytest.raises(PersonRequired):
        await world.mine.execute(key, 50)


async def test_done_and_undone_are_idempotent_and_recorded(world: World) -> None:
    task = await world.task()
    done = await world.complete.execute(tk.TaskCommand(world.admin, task.id))
    assert (done.done_at, done.version) == (world.clock.now(), 2)
    assert isinstance(world.store.state.outbox[-1], TaskCompleted)
    world.clock.advance(minutes=5)
    again = await world.complete.execute(tk.TaskCommand(world.admin, task.id))
    assert (again.done_at, again.version) == (done.done_at, 2)
    reopened = await world.reopen.execute(tk.TaskCommand(world.admin, task.id, if_match=2))
    assert (reopened.done_at, reopened.version) == (None, 3)
    assert isinstance(world.store.state.outbox[-1], TaskReopened)
    with pytest.raises(VersionConflict):
        await world.complete.execute(tk.TaskCommand(world.admin, task.id, if_match=2))
    assert world.store.state.tasks[task.id].done_at is None


async def test_update_changes_and_clears(world: World) -> None:
    me = world.person(Role.MEMBER)
    task = await world.task(description="x", due_at=world.clock.now(), assignee_id=me.actor_id)
    changed = await world.update.execute(
        tk.UpdateTaskCommand(
            world.admin, task.id, {"description": None, "due_at": None, "priority": "high"}
        )
    )
    assert (changed.description, changed.due_at, changed.priority, changed.version) == (
        None,
        None,
        Priority.HIGH,
        2,
    )
    assert isinstance(world.store.state.outbox[-1], TaskUpdated)
    with pytest.raises(InvalidInput):
        await world.update.execute(tk.UpdateTaskCommand(world.admin, task.id, {"title": None}))
    with pytest.raises(InvalidInput):
        await world.update.execute(
            tk.UpdateTaskCommand(world.admin, task.id, {"assignee_id": uuid4()})
        )
    assert world.store.state.tasks[task.id] == changed


async def test_permissions_follow_the_record(world: World) -> None:
    company = await world.create_company.execute(
        co.CreateCompanyCommand(world.admin, {"name": "Acme"})
    )
    task = await world.task(record_type="company", record_id=company.id)
    contacts_key = world.key(Scope.CONTACTS_READ, Scope.CONTACTS_WRITE)
    with pytest.raises(MissingScope):
        await world.get.execute(contacts_key, task.id)
    with pytest.raises(MissingScope):
        await world.complete.execute(tk.TaskCommand(contacts_key, task.id))
    with pytest.raises(MissingScope):
        await world.task(world.key(Scope.CONTACTS_READ))
    assert (await world.get.execute(world.key(Scope.COMPANIES_READ), task.id)).id == task.id
    loose = await world.task()
    listed = await world.list.execute(world.key(Scope.CONTACTS_READ), 50)
    assert [t.id for t in listed.items] == [loose.id]
    everything = await world.list.execute(world.key(Scope.ADMIN), 50)
    assert {t.id for t in everything.items} == {task.id, loose.id}


async def test_members_delete_only_tasks_they_created(world: World) -> None:
    alice, bob = world.person(Role.MEMBER), world.person(Role.MEMBER)
    task = await world.task(alice)
    with pytest.raises(RoleForbids):
        await world.delete.execute(tk.TaskCommand(bob, task.id))
    await world.delete.execute(tk.TaskCommand(alice, task.id))
    assert world.store.state.tasks == {}


async def test_another_workspace_task_is_not_found(world: World) -> None:
    task = await world.task()
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(TaskNotFound):
        await world.get.execute(stranger, task.id)
    with pytest.raises(TaskNotFound):
        await world.update.execute(tk.UpdateTaskCommand(stranger, task.id, {"title": "x"}))
    with pytest.raises(TaskNotFound):
        await world.complete.execute(tk.TaskCommand(stranger, task.id))
    with pytest.raises(TaskNotFound):
        await world.delete.execute(tk.TaskCommand(stranger, task.id))
    assert world.store.state.tasks[task.id] == task


async def test_deleting_a_record_detaches_its_tasks(world: World) -> None:
    contact = await world.contact()
    task = await world.task(record_type="contact", record_id=contact)
    await world.delete_contact.execute(DeleteContactCommand(world.admin, contact))
    kept = world.store.state.tasks[task.id]
    assert (kept.record_type, kept.record_id, kept.version) == (None, None, 2)
