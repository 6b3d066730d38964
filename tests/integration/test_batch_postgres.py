"""What only Postgres can show about batches: a unique value a concurrent writer takes
between the batch's read and its writes fails that item alone (the rest commit, nothing of it
stays), and a batch costs the same few statements whatever its size."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Self
from uuid import UUID, uuid4

import pytest_asyncio
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.adapters.memory.clock import ManualClock
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.postgres import tables as t
from crm.adapters.postgres.engine import create_engine
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.model.contact import Contact
from crm.domain.model.permissions import ActorKind, Principal, Scope
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.use_cases.batch import (
    BatchCommand,
    BatchCompanies,
    BatchContacts,
    BatchDeals,
    BatchOperation,
)
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.ports.batch import BatchStore

IDS, CLOCK, PHONES = Uuid7Generator(), ManualClock(), LibPhoneNumbers()


class RacingContacts:
    """The contacts of a batch whose lookup lets `rival` commit right after it."""

    def __init__(self, inner: BatchStore[Contact], rival: Callable[[], Awaitable[None]]):
        self._inner, self._rival = inner, rival

    async def lock(
        self, workspace_id: UUID, ids: Collection[UUID], keys: Mapping[str, Collection[str]]
    ) -> list[Contact]:
        found = await self._inner.lock(workspace_id, ids, keys)
        await self._rival()
        return found

    async def add_many(self, records: Sequence[Contact]) -> None:
        await self._inner.add_many(records)

    async def save_many(self, records: Sequence[Contact]) -> None:
        await self._inner.save_many(records)


class RacingUnitOfWork(SqlAlchemyUnitOfWork):
    """A unit of work whose batch lookup of contacts lets `rival` commit right after it."""

    def __init__(self, engine: AsyncEngine, rival: Callable[[], Awaitable[None]]):
        super().__init__(engine)
        self._rival = rival

    async def __aenter__(self) -> Self:
        tx = await super().__aenter__()
        tx.batch.contacts = RacingContacts(tx.batch.contacts, self._rival)
        return tx


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(database_url)
    yield made
    await made.dispose()


async def workspace(engine: AsyncEngine) -> Principal:
    create = CreateWorkspace(lambda: SqlAlchemyUnitOfWork(engine), CLOCK, IDS, ApiKeySecrets(b"k"))
    made = await create.execute(CreateWorkspaceCommand("Acme"))
    return Principal(made.workspace.id, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.ADMIN}))


async def count(engine: AsyncEngine, table: Any, *where: Any) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(table).where(*where)
        return int((await conn.execute(query)).scalar_one())


async def test_a_racing_writer_fails_only_the_items_it_clashes_with(engine: AsyncEngine) -> None:
    who = await workspace(engine)
    plain = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    create = CreateContact(plain, CLOCK, IDS, PHONES)
    raced: list[str] = []

    async def rival() -> None:
        if raced:
            return
        raced.append("once")
        for fields in ({"emails": ["x@x.io"]}, {"first_name": "R", "external_id": "e-9"}):
            await create.execute(CreateContactCommand(who, fields))

    racing = lambda: RacingUnitOfWork(engine, rival)  # noqa: E731
    batch = BatchContacts(racing, CLOCK, IDS, PHONES)
    items: list[dict[str, Any]] = [
        {"first_name": "Ada", "emails": ["a@x.io"]},
        {"first_name": "Clash", "emails": ["x@x.io", "only-mine@x.io"]},
        {"first_name": "Bo", "emails": ["b@x.io"], "tags": ["t"]},
        {"first_name": "Clash too", "external_id": "e-9"},
        {"first_name": "Bad", "emails": ["nope"]},
    ]
    results = await batch.execute(BatchCommand(who, BatchOperation.CREATE, items))
    assert [r.error.code if r.error else r.status.value for r in results] == [
        "created",
        "contact_email_taken",
        "created",
        "external_id_taken",
        "validation_failed",
    ]
    ws = t.contact.c.workspace_id == who.workspace_id
    assert await count(engine, t.contact, ws) == 4  # two of the batch, two of the rival
    mine = t.contact_email.c.email == "only-mine@x.io"
    assert await count(engine, t.contact_email, mine) == 0
    o = t.outbox_event.c
    created = [r.record.id for r in results if r.record is not None]
    for record_id in created:
        assert await count(engine, t.outbox_event, o.aggregate_id == record_id) == 1
    topics = o.topic == "contact.created"
    assert await count(engine, t.outbox_event, topics, o.workspace_id == who.workspace_id) == 4


def _items(n: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "first_name": f"P{i}",
            "emails": [f"p{i}-{tag}@x.io"],
            "phones": [f"+1415555{i:04d}"],
            "tags": ["imported", tag],
            "external_id": f"{tag}-{i}",
        }
        for i in range(n)
    ]


async def test_a_batch_costs_the_same_statements_whatever_its_size(engine: AsyncEngine) -> None:
    who = await workspace(engine)
    sent: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", log)
    batch = BatchContacts(lambda: SqlAlchemyUnitOfWork(engine), CLOCK, IDS, PHONES)
    upsert, update = BatchOperation.UPSERT, BatchOperation.UPDATE
    per_size: dict[int, list[list[str]]] = {}
    for n in (5, 300):
        sent.clear()
        made = await batch.execute(BatchCommand(who, upsert, _items(n, f"s{n}"), "external_id"))
        created = list(sent)
        sent.clear()
        again = [{**item, "job_title": "CTO"} for item in _items(n, f"s{n}")]
        await batch.execute(BatchCommand(who, upsert, again, "external_id"))
        upserted = list(sent)
        sent.clear()
        written = [(r.index, r.record.id) for r in made if r.record is not None]
        assert len(written) == n
        changes = [{"id": str(id_), "emails": [f"new{n}-{i}@x.io"]} for i, id_ in written]
        await batch.execute(BatchCommand(who, update, changes))
        per_size[n] = [created, upserted, list(sent)]
    assert per_size[5] == per_size[300]
    assert all(len(statements) <= 10 for statements in per_size[300]), per_size[300]


async def test_company_and_deal_batches_cost_the_same_statements_whatever_their_size(
    engine: AsyncEngine,
) -> None:
    who = await workspace(engine)
    sent: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", log)
    uow = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    companies = BatchCompanies(uow, CLOCK, IDS, PHONES)
    deals = BatchDeals(uow, CLOCK, IDS, PHONES)
    upsert = BatchOperation.UPSERT
    counts: dict[int, list[int]] = {}
    for n in (5, 300):
        made: list[int] = []
        for run, items in (
            (companies, [{"name": f"C{i}", "domain": f"c{i}-{n}.io"} for i in range(n)]),
            (deals, [{"name": f"D{i}", "external_id": f"d{i}-{n}"} for i in range(n)]),
        ):
            for again in (False, True):  # created, then updated
                sent.clear()
                tagged = [{**item, "tags": ["x"]} for item in items] if again else items
                results = await run.execute(BatchCommand(who, upsert, tagged))
                assert {r.status.value for r in results} == {"updated" if again else "created"}
                made.append(len(sent))
        counts[n] = made
    assert counts[5] == counts[300]
