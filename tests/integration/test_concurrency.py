"""What only a real database shows: racing writers, constraints and locks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from crm.adapters.postgres.engine import Turns, create_engine
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.domain.errors import EmailAlreadyInUse, ServiceUnavailable
from crm.domain.model.permissions import Principal
from crm.domain.use_cases.create_contact import CreateContactCommand
from crm.domain.use_cases.update_contact import UpdateContactCommand
from tests.support.api import Api, closed_port, running_api, settings_for_tests


@pytest_asyncio.fixture
async def api(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    async with running_api(
        settings_for_tests(database_url, redis_url, database_pool_size=8)
    ) as running:
        yield running


async def principal(api: Api) -> Principal:
    created = await api.workspace()
    assert created.secret is not None
    caller = await api.container.authenticate.execute(created.secret)
    assert caller.principal is not None
    return caller.principal


async def test_racing_creates_with_one_email_make_one_contact(
    api: Api, db: asyncpg.Connection
) -> None:
    who = await principal(api)
    command = CreateContactCommand(who, {"emails": ["race@example.com"]})
    results = await asyncio.gather(
        *(api.container.create_contact.execute(command) for _ in range(8)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, EmailAlreadyInUse) for r in results if isinstance(r, BaseException))
    assert await db.fetchval("SELECT count(*) FROM contact") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox_event") == 1


async def test_concurrent_updates_serialize_without_losing_one(
    api: Api, db: asyncpg.Connection
) -> None:
    who = await principal(api)
    for i in range(6):
        field = {"object_type": "contact", "key": f"k{i}", "label": f"K{i}", "field_type": "number"}
        await api.container.create_custom_field.execute(who, field)
    contact = await api.container.create_contact.execute(
        CreateContactCommand(who, {"first_name": "A"})
    )
    updates = [
        UpdateContactCommand(who, contact.id, {"custom_fields": {f"k{i}": i}}) for i in range(6)
    ]
    await asyncio.gather(*(api.container.update_contact.execute(u) for u in updates))
    row = await db.fetchrow("SELECT version, custom_fields FROM contact WHERE id = $1", contact.id)
    assert row is not None
    assert row["version"] == 7
    assert '"k5": 5' in row["custom_fields"]
    assert (
        await db.fetchval("SELECT count(*) FROM outbox_event WHERE topic = 'contact.updated'") == 6
    )


async def test_failed_transactions_give_their_turn_back(database_url: str) -> None:
    """Units of work queue for the pool in turns; a failure must not keep its turn."""
    engine = create_engine(database_url, pool_size=1)
    turns = Turns(1)
    try:
        for _ in range(3):
            with pytest.raises(RuntimeError):
                async with asyncio.timeout(5), SqlAlchemyUnitOfWork(engine, turns):
                    raise RuntimeError("the use case failed")
        dead = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x")
        for _ in range(2):
            with pytest.raises(ServiceUnavailable):
                await asyncio.wait_for(SqlAlchemyUnitOfWork(dead, turns).__aenter__(), 5)
        async with asyncio.timeout(5), SqlAlchemyUnitOfWork(engine, turns) as uow:
            assert await uow.workspaces.get(uuid.uuid4()) is None
        assert not turns.locked()
    finally:
        await engine.dispose()
