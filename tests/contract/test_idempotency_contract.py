"""One contract for the IdempotencyStore port, against the in-memory and the Postgres adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.idempotency import InMemoryIdempotencyStore
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.engine import Turns, create_engine
from crm.adapters.postgres.idempotency import PostgresIdempotencyStore
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from crm.domain.model.workspace import Workspace
from crm.ports.idempotency import IdempotencyKey, IdempotencyStore, StoredResponse
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import contact

IDS = Uuid7Generator()
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
KEPT = timedelta(hours=24)
CREATED = StoredResponse(201, (("content-type", "application/json"),), b'{"id": 1}')


@dataclass
class Subject:
    store: IdempotencyStore
    uow: UnitOfWorkFactory
    clock: ManualClock
    workspace_id: UUID


def key(subject: Subject, name: str = "k1", body: bytes = b"A") -> IdempotencyKey:
    return IdempotencyKey(subject.workspace_id, UUID(int=7), name, body.ljust(32, b"."))


class IdempotencyContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    async def test_a_new_key_has_nothing_to_replay(self, subject: Subject) -> None:
        async with subject.store.claim(key(subject)) as claim:
            assert claim.replay is None

    async def test_a_completed_key_replays_its_response(self, subject: Subject) -> None:
        async with subject.store.claim(key(subject)) as claim:
            await claim.complete(CREATED)
        async with subject.store.claim(key(subject)) as again:
            assert again.replay == CREATED

    async def test_an_uncompleted_key_is_free_again(self, subject: Subject) -> None:
        async with subject.store.claim(key(subject)) as claim:
            assert claim.replay is None
        async with subject.store.claim(key(subject)) as again:
            assert again.replay is None

    async def test_another_request_with_the_key_is_refused(self, subject: Subject) -> None:
        async with subject.store.claim(key(subject)) as claim:
            await claim.complete(CREATED)
        with pytest.raises(IdempotencyKeyReused):
            async with subject.store.claim(key(subject, body=b"B")):
                pass

    async def test_a_running_key_is_in_use(self, subject: Subject) -> None:
        async with subject.store.claim(key(subject)):
            with pytest.raises(IdempotencyKeyInUse):
                async with subject.store.claim(key(subject)):
                    pass
            # Other keys are not held up.
            async with subject.store.claim(key(subject, "k2")) as other:
                assert other.replay is None

    async def test_keys_expire_and_are_purged(self, subject: Subject) -> None:
        async with subject.store.claim(key(subject)) as claim:
            await claim.complete(CREATED)
        subject.clock.advance(hours=23)
        assert await subject.store.purge(subject.clock.now()) == 0
        subject.clock.advance(hours=2)
        # Expired: the key answers a new request as if it were new, even before a purge.
        async with subject.store.claim(key(subject, body=b"B")) as claim:
            assert claim.replay is None
        assert await subject.store.purge(subject.clock.now()) == 1
        async with subject.store.claim(key(subject, body=b"B")) as claim:
            assert claim.replay is None


class TestInMemory(IdempotencyContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        clock, store = ManualClock(T0), MemoryStore()
        ws = Workspace(IDS.new_id(), "Acme", T0)
        store.state.workspaces[ws.id] = ws
        yield Subject(
            InMemoryIdempotencyStore(clock, KEPT), lambda: InMemoryUnitOfWork(store), clock, ws.id
        )


class TestPostgres(IdempotencyContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        engine, clock = create_engine(database_url, pool_size=2), ManualClock(T0)
        turns = Turns(2)
        ws = Workspace(IDS.new_id(), "Acme", T0)
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        store = PostgresIdempotencyStore(engine, turns, clock, KEPT)
        yield Subject(store, lambda: SqlAlchemyUnitOfWork(engine, turns), clock, ws.id)
        assert turns.free == 2, "every claim gives its turn back"
        await engine.dispose()

    async def test_effects_commit_only_with_the_kept_response(
        self, subject: Subject, db: asyncpg.Connection
    ) -> None:
        kept, dropped = contact(subject.workspace_id, 1), contact(subject.workspace_id, 2)
        async with subject.store.claim(key(subject, "kept")) as claim:
            async with subject.uow() as uow:
                await uow.contacts.add(kept)
                await uow.commit()
            # Not visible to anyone else until the response is kept with it.
            assert await db.fetchval("SELECT count(*) FROM contact") == 0
            await claim.complete(CREATED)

        async def crash_before_the_response_is_kept() -> None:
            async with subject.store.claim(key(subject, "dropped")):
                async with subject.uow() as uow:
                    await uow.contacts.add(dropped)
                    await uow.commit()
                raise RuntimeError("crash")

        with pytest.raises(RuntimeError, match="crash"):
            await crash_before_the_response_is_kept()
        ids = {r["id"] for r in await db.fetch("SELECT id FROM contact")}
        assert ids == {kept.id}
        keys = {r["key"] for r in await db.fetch("SELECT key FROM idempotency_key")}
        assert keys == {"kept"}

    async def test_a_failed_unit_of_work_inside_a_claim_undoes_only_itself(
        self, subject: Subject, db: asyncpg.Connection
    ) -> None:
        first, second = contact(subject.workspace_id, 1), contact(subject.workspace_id, 2)
        async with subject.store.claim(key(subject)) as claim:
            async with subject.uow() as uow:
                await uow.contacts.add(first)
                await uow.commit()
            async with subject.uow() as uow:
                await uow.contacts.add(second)  # left without commit: rolled back
            await claim.complete(CREATED)
        assert {r["id"] for r in await db.fetch("SELECT id FROM contact")} == {first.id}

    async def test_claims_are_exclusive_across_connections(self, database_url: str) -> None:
        """Two stores on separate engines stand for two API processes."""
        clock = ManualClock(T0)
        engines = [create_engine(database_url, pool_size=1) for _ in range(2)]
        a, b = (PostgresIdempotencyStore(e, Turns(1), clock, KEPT) for e in engines)
        ws = Workspace(IDS.new_id(), "Acme", T0)
        async with SqlAlchemyUnitOfWork(engines[0]) as uow:
            await uow.workspaces.add(ws)
            await uow.commit()
        k = IdempotencyKey(ws.id, UUID(int=1), "shared", b"f" * 32)
        async with a.claim(k) as claim:
            with pytest.raises(IdempotencyKeyInUse):
                async with b.claim(k):
                    pass
            await claim.complete(CREATED)
        async with b.claim(k) as seen_by_b:
            assert seen_by_b.replay == CREATED
        for engine in engines:
            await engine.dispose()
