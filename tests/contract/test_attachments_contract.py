"""One contract for the attachment repository, on memory and Postgres: read back as written
(pending and ready), scoped to the workspace, versions, and a record's ready attachments
newest first in keyset pages."""

from __future__ import annotations

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
from crm.domain.model.attachments import AttachedTo, Attachment
from crm.domain.model.blobs import BlobInfo
from crm.domain.pagination import PageRequest
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.stores import new_workspace, postgres

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IDS = Uuid7Generator()
PDF = "application/pdf"


def attachment(workspace: UUID, record: UUID, n: int = 0, **fields: Any) -> Attachment:
    values: dict[str, Any] = {
        "id": IDS.new_id(),
        "workspace_id": workspace,
        "record_type": AttachedTo.CONTACT,
        "record_id": record,
        "filename": f"file {n}.pdf",
        "content_type": PDF,
        "max_bytes": 1000,
        "created_by": uuid4(),
        "created_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return Attachment(**values)


def ready(a: Attachment, size: int = 10) -> Attachment:
    done = replace(a)
    done.confirm(BlobInfo(a.key, size, a.content_type), a.created_at + timedelta(minutes=1))
    return done


class AttachmentsContract:
    """Each subclass provides `uow` for its adapter."""

    @pytest_asyncio.fixture
    async def workspace(self, uow: UnitOfWorkFactory) -> UUID:
        return await new_workspace(uow)

    async def add(self, uow: UnitOfWorkFactory, *attachments: Attachment) -> None:
        async with uow() as tx:
            for a in attachments:
                await tx.attachments.add(a)
            await tx.commit()

    async def test_reads_back_as_written_in_its_workspace_only(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        pending = attachment(workspace, uuid4(), 1, record_type=AttachedTo.NOTE)
        done = ready(attachment(workspace, uuid4(), 2, filename="Relatório.pdf"))
        await self.add(uow, pending, done)
        other = await new_workspace(uow, "Other")
        async with uow() as tx:
            assert await tx.attachments.get(workspace, pending.id) == pending
            assert await tx.attachments.get_for_update(workspace, done.id) == done
            assert await tx.attachments.get(other, pending.id) is None
            assert await tx.attachments.get_for_update(other, done.id) is None
            assert await tx.attachments.get(workspace, uuid4()) is None

    async def test_confirming_saves_with_its_version(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        a = attachment(workspace, uuid4())
        await self.add(uow, a)
        done = ready(a, size=999)
        async with uow() as tx:
            await tx.attachments.save(done, expected_version=1)
            await tx.commit()
        async with uow() as tx:
            assert await tx.attachments.get(workspace, a.id) == done
            with pytest.raises(VersionConflict):
                await tx.attachments.save(done, expected_version=1)
            await tx.attachments.remove(done)
            await tx.commit()
        async with uow() as tx:
            assert await tx.attachments.get(workspace, a.id) is None

    async def test_a_records_ready_attachments_newest_first_in_pages(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        record, elsewhere = uuid4(), uuid4()
        listed = [ready(attachment(workspace, record, n)) for n in range(5)]
        others = [
            attachment(workspace, record, 9),  # pending
            ready(attachment(workspace, elsewhere, 10)),
            ready(attachment(workspace, record, 11, record_type=AttachedTo.DEAL)),
            ready(attachment(await new_workspace(uow, "Other"), record, 12)),
        ]
        await self.add(uow, *listed, *others)
        seen: list[Attachment] = []
        page = PageRequest(limit=2)
        async with uow() as tx:
            while True:
                found = await tx.attachments.of_record(workspace, AttachedTo.CONTACT, record, page)
                seen += found.items
                if found.next is None:
                    break
                page = PageRequest(limit=2, after=found.next)
        assert seen == listed[::-1]

    async def test_all_of_a_record_and_moving_them_to_another(
        self, uow: UnitOfWorkFactory, workspace: UUID
    ) -> None:
        source, target, elsewhere = uuid4(), uuid4(), uuid4()
        pending = attachment(workspace, source, 0)
        done = ready(attachment(workspace, source, 1))
        company = attachment(workspace, source, 2, record_type=AttachedTo.COMPANY)
        other = attachment(workspace, elsewhere, 3)
        await self.add(uow, pending, done, company, other)
        async with uow() as tx:
            found = await tx.attachments.any_of_record(workspace, AttachedTo.CONTACT, source, 10)
            first = await tx.attachments.any_of_record(workspace, AttachedTo.CONTACT, source, 1)
            theirs = await tx.attachments.any_of_record(uuid4(), AttachedTo.CONTACT, source, 10)
        assert [a.id for a in found] == [pending.id, done.id]  # pending too, oldest first
        assert [a.id for a in first] == [pending.id]
        assert theirs == []
        async with uow() as tx:
            moved = await tx.attachments.move(workspace, AttachedTo.CONTACT, source, target)
            await tx.commit()
        assert moved == 2
        async with uow() as tx:
            now = await tx.attachments.any_of_record(workspace, AttachedTo.CONTACT, target, 10)
            left = await tx.attachments.any_of_record(workspace, AttachedTo.CONTACT, source, 10)
            still = await tx.attachments.get(workspace, company.id)
        assert [(a.id, a.version) for a in now] == [(pending.id, 2), (done.id, done.version + 1)]
        assert left == []
        assert still is not None
        assert still.record_id == source  # another kind of record


class TestInMemory(AttachmentsContract):
    @pytest_asyncio.fixture
    async def uow(self) -> AsyncIterator[UnitOfWorkFactory]:
        store = MemoryStore()
        yield lambda: InMemoryUnitOfWork(store)


class TestPostgres(AttachmentsContract):
    @pytest_asyncio.fixture
    async def uow(self, database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
        async with postgres(database_url) as (factory, _):
            yield factory
