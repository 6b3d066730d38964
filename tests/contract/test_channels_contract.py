"""One contract for the channel repository, on memory and Postgres: read back as written,
one workspace per phone number id (also when two connect it at once), versions, paging."""

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
from crm.domain.model.channels import PhoneNumberIdTaken, WhatsAppChannel
from crm.domain.pagination import PageRequest, SortOrder
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.stores import new_workspace, postgres

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IDS = Uuid7Generator()


def channel(workspace: UUID, n: int = 0, **fields: Any) -> WhatsAppChannel:
    values: dict[str, Any] = {
        "id": IDS.new_id(),
        "workspace_id": workspace,
        "phone_number_id": f"{uuid4().int % 10**15}{n}",
        "display_phone_number": f"+1555078{n:04d}",
        "name": None,
        "access_token_encrypted": f"sealed-{n}",
        "access_token_last4": f"{n:04d}",
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return WhatsAppChannel(**values)


class ChannelsContract:
    """Each subclass provides `uow` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, uow: UnitOfWorkFactory) -> UUID:
        return await new_workspace(uow)

    async def add(self, uow: UnitOfWorkFactory, *channels: WhatsAppChannel) -> None:
        async with uow() as tx:
            for c in channels:
                await tx.channels.add(c)
            await tx.commit()

    async def test_a_channel_reads_back_as_written(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        c = channel(workspace, 1, name="Sales line")
        await self.add(uow, c)
        other = await new_workspace(uow, "Other")
        async with uow() as tx:
            assert await tx.channels.get(workspace, c.id) == c
            assert await tx.channels.get_for_update(workspace, c.id) == c
            assert await tx.channels.get(other, c.id) is None
            assert await tx.channels.by_phone_number_id(c.phone_number_id) == c
            assert await tx.channels.by_phone_number_id("0") is None

    async def test_a_phone_number_id_is_held_by_one_workspace(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        c = channel(workspace)
        await self.add(uow, c)
        other = await new_workspace(uow, "Other")
        for where in (workspace, other):
            with pytest.raises(PhoneNumberIdTaken):
                await self.add(uow, channel(where, phone_number_id=c.phone_number_id))
        async with uow() as tx:
            assert (await tx.channels.list(other, PageRequest(10))).items == []

    async def test_concurrent_connections_of_one_number_leave_one(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        number = "4242424242"
        others = [await new_workspace(uow, f"W{n}") for n in range(5)]
        outcomes = await asyncio.gather(
            *(self.add(uow, channel(w, phone_number_id=number)) for w in others),
            return_exceptions=True,
        )
        assert sum(o is None for o in outcomes) == 1
        assert all(isinstance(o, PhoneNumberIdTaken) for o in outcomes if o is not None)

    async def test_save_checks_the_version_and_remove_frees_the_number(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        c = channel(workspace)
        await self.add(uow, c)
        changed = replace(c, name="Support", access_token_last4="WXYZ", version=2)
        async with uow() as tx:
            await tx.channels.save(changed, expected_version=1)
            await tx.commit()
        async with uow() as tx:
            assert await tx.channels.get(workspace, c.id) == changed
            with pytest.raises(VersionConflict):
                await tx.channels.save(replace(changed, version=3), 1)
        async with uow() as tx:
            await tx.channels.remove(changed)
            await tx.commit()
        await self.add(uow, channel(workspace, phone_number_id=c.phone_number_id))

    async def test_list_pages_oldest_first(self, uow: UnitOfWorkFactory, workspace: UUID) -> None:
        made = [channel(workspace, n) for n in range(5)]
        await self.add(uow, *reversed(made))
        await self.add(uow, channel(await new_workspace(uow, "Other"), 9))
        seen, after = [], None
        async with uow() as tx:
            while True:
                page = await tx.channels.list(
                    workspace, PageRequest(2, after, SortOrder.OLDEST_FIRST)
                )
                seen += page.items
                if page.next is None:
                    break
                after = page.next
        assert seen == made


class TestInMemory(ChannelsContract):
    @pytest_asyncio.fixture
    async def uow(self) -> AsyncIterator[UnitOfWorkFactory]:
        store = MemoryStore()
        yield lambda: InMemoryUnitOfWork(store)


class TestPostgres(ChannelsContract):
    @pytest_asyncio.fixture
    async def uow(self, database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
        async with postgres(database_url) as (factory, _):
            yield factory
