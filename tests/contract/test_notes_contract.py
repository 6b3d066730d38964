"""One contract for the note ports (repository, reader), on memory and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from crm.adapters.memory.notes import InMemoryNoteReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.notes import AsyncpgNoteReader
from crm.domain.errors import VersionConflict
from crm.domain.model.note import Note, NotePosition, RecordType
from crm.ports.notes import NoteReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import IDS, T0, contact
from tests.support.stores import new_workspace, postgres

C = RecordType.CONTACT


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    notes: NoteReader


def note(workspace_id: UUID, record_id: UUID, n: int = 0, **fields: Any) -> Note:
    at = T0 + timedelta(seconds=n)
    values: dict[str, Any] = {
        "record_type": C,
        "record_id": record_id,
        "text": f"Note {n}",
        "author_id": uuid4(),
        "pinned": False,
        "created_at": at,
        "updated_at": at,
    }
    values.update(fields)
    return Note(IDS.new_id(), workspace_id, **values)


class NoteContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        return await self.new_workspace(subject)

    async def new_workspace(self, subject: Subject) -> UUID:
        return await new_workspace(subject.uow)

    async def new_contact(self, subject: Subject, workspace: UUID) -> UUID:
        c = contact(workspace, emails=(f"{uuid4().hex}@example.com",))
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.commit()
        return c.id

    async def add(self, subject: Subject, *notes: Note) -> None:
        async with subject.uow() as uow:
            for n in notes:
                await uow.notes.add(n)
            await uow.commit()

    async def test_a_note_reads_back_as_written(self, subject: Subject, workspace: UUID) -> None:
        record = await self.new_contact(subject, workspace)
        n = note(workspace, record, pinned=True)
        await self.add(subject, n)
        assert await subject.notes.get(workspace, n.id) == n
        async with subject.uow() as uow:
            assert await uow.notes.get_for_update(workspace, n.id) == n
        other = await self.new_workspace(subject)
        assert await subject.notes.get(other, n.id) is None

    async def test_save_checks_the_version(self, subject: Subject, workspace: UUID) -> None:
        n = note(workspace, await self.new_contact(subject, workspace))
        await self.add(subject, n)
        changed = replace(n, text="Changed", version=2)
        async with subject.uow() as uow:
            await uow.notes.save(changed, expected_version=1)
            await uow.commit()
        assert await subject.notes.get(workspace, n.id) == changed
        async with subject.uow() as uow:
            with pytest.raises(VersionConflict):
                await uow.notes.save(replace(changed, version=3), expected_version=1)

    async def test_pages_are_pinned_first_then_newest(
        self, subject: Subject, workspace: UUID
    ) -> None:
        record = await self.new_contact(subject, workspace)
        notes = [note(workspace, record, i, pinned=i in (1, 3)) for i in range(5)]
        elsewhere = note(workspace, await self.new_contact(subject, workspace), 9)
        await self.add(subject, *notes, elsewhere)
        seen: list[str] = []
        after: NotePosition | None = None
        while True:
            page = await subject.notes.of_record(workspace, C, record, 2, after)
            assert page is not None
            seen += [n.text for n in page.items]
            if page.next is None:
                break
            after = page.next
        assert seen == ["Note 3", "Note 1", "Note 4", "Note 2", "Note 0"]

    async def test_a_missing_record_has_no_page_an_empty_one_has(
        self, subject: Subject, workspace: UUID
    ) -> None:
        record = await self.new_contact(subject, workspace)
        page = await subject.notes.of_record(workspace, C, record, 10, None)
        assert page is not None
        assert (page.items, page.next) == ([], None)
        assert await subject.notes.of_record(workspace, C, uuid4(), 10, None) is None
        other = await self.new_workspace(subject)
        assert await subject.notes.of_record(other, C, record, 10, None) is None
        assert (
            await subject.notes.of_record(workspace, RecordType.COMPANY, record, 10, None) is None
        )

    async def test_remove_and_remove_of_record(self, subject: Subject, workspace: UUID) -> None:
        a, b = (
            await self.new_contact(subject, workspace),
            await self.new_contact(subject, workspace),
        )
        a1, a2, b1 = note(workspace, a, 1), note(workspace, a, 2), note(workspace, b, 3)
        await self.add(subject, a1, a2, b1)
        async with subject.uow() as uow:
            await uow.notes.remove(a1)
            await uow.notes.remove_of_record(workspace, C, b)
            await uow.commit()
        assert await subject.notes.get(workspace, a1.id) is None
        assert await subject.notes.get(workspace, b1.id) is None
        assert await subject.notes.get(workspace, a2.id) == a2


class TestInMemory(NoteContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store), InMemoryNoteReader(store))


class TestPostgres(NoteContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(uow, AsyncpgNoteReader(pool))
