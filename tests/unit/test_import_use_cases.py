"""CSV import use cases on the memory adapters (the file is a real temporary file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest

from crm.adapters.localfs.csv_files import TempCsvFiles
from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.imports import InMemoryImportJobs
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import ImportNotFound, InvalidInput
from crm.domain.model.contact import Contact
from crm.domain.model.imports import (
    INTERRUPTED,
    Dedupe,
    ImportCounts,
    ImportJob,
    ImportObject,
    ImportStatus,
    SkipReason,
)
from crm.domain.model.permissions import ActorKind, MissingScope, Principal, Role, Scope
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.use_cases.batch import BatchCompanies, BatchContacts, BatchDeals
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.import_runner import Batch
from crm.domain.use_cases.imports import ImportUseCases, StartImportCommand

GOOD_BAD_AND_MALFORMED = (
    b"Email,First,Last,Tags,Notes\n"
    b"ada@x.io,Ada,Lovelace,vip;math,first\n"
    b"not-an-email,Bob,B,,\n"  # the batch refuses it
    b'cy@x.io,"Cy,Young,,\n'  # a quote never closed
    b"dee@x.io,Dee\n"  # too few cells
    b",,,,nobody\n"  # no name, email or phone
    b"eve@x.io,Eve,E,,\n"
)
MAPPING: dict[str, str | None] = {"Email": "emails", "First": "first_name"}


async def upload(data: bytes) -> AsyncIterator[bytes]:
    yield data


class World:
    def __init__(self, tmp_path: Path, max_running: int = 2) -> None:
        self.store, self.clock, self.tmp = MemoryStore(), ManualClock(), tmp_path
        self.jobs = InMemoryImportJobs()
        writes = (lambda: InMemoryUnitOfWork(self.store), self.clock, Uuid7Generator())
        phones = LibPhoneNumbers()
        batches: dict[ImportObject, Batch] = {
            ImportObject.CONTACTS: BatchContacts(*writes, phones),
            ImportObject.COMPANIES: BatchCompanies(*writes, phones),
            ImportObject.DEALS: BatchDeals(*writes, phones),
        }
        self.imports = ImportUseCases.build(
            *writes,
            batches,
            TempCsvFiles(tmp_path),
            self.jobs,
            chunk_rows=2,
            max_running=max_running,
        )
        self.ws = uuid4()
        self.owner = Principal(self.ws, uuid4(), ActorKind.USER, role=Role.OWNER)

    async def run(
        self,
        data: bytes,
        mapping: dict[str, str | None] | None = MAPPING,
        dedupe: Dedupe = Dedupe.SKIP,
        who: Principal | None = None,
    ) -> ImportJob:
        cmd = StartImportCommand(
            who or self.owner, ImportObject.CONTACTS, upload(data), "x.csv", mapping, dedupe
        )
        job = await self.imports.start.execute(cmd)
        await self.imports.runner.wait(job.id)
        return await self.imports.get.execute(who or self.owner, job.id)

    def contacts(self) -> dict[str, Contact]:
        return {c.emails[0]: c for c in self.store.state.contacts.values() if c.emails}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


async def test_good_rows_are_written_and_every_bad_row_fails_alone_with_its_reason(
    world: World,
) -> None:
    job = await world.run(GOOD_BAD_AND_MALFORMED, {**MAPPING, "Last": "last_name", "Tags": "tags"})
    assert job.status is ImportStatus.DONE
    assert job.rows_total == 6
    assert job.counts == ImportCounts(rows_done=6, created=2, failed=4)
    assert job.ignored_columns == ("Notes",)
    assert set(world.contacts()) == {"ada@x.io", "eve@x.io"}
    assert world.contacts()["ada@x.io"].tags == ("vip", "math")
    _, rows = await world.imports.failed_rows.execute(world.owner, job.id)
    assert [(r.line, r.code) for r in rows] == [
        (3, "validation_failed"),
        (4, "malformed_row"),
        (5, "wrong_cell_count"),
        (6, "validation_failed"),
    ]
    assert "not-an-email" in rows[0].message
    assert rows[0].cells == ("not-an-email", "Bob", "B", "", "")
    assert list(world.tmp.iterdir()) == [], "the upload is deleted when the import ends"


async def test_dedupe_skip_update_and_create(world: World) -> None:
    await world.run(b"Email,First\nada@x.io,Ada\n")
    again = b"Email,First\nada@x.io,Augusta\nbob@x.io,Bob\n"

    skipped = await world.run(again, dedupe=Dedupe.SKIP)
    assert skipped.counts == ImportCounts(rows_done=2, created=1, skipped=1)
    assert world.contacts()["ada@x.io"].first_name == "Ada"

    updated = await world.run(again, dedupe=Dedupe.UPDATE)
    assert updated.counts == ImportCounts(rows_done=2, updated=1, unchanged=1)
    assert world.contacts()["ada@x.io"].first_name == "Augusta"

    created = await world.run(again, dedupe=Dedupe.CREATE)
    assert created.counts == ImportCounts(rows_done=2, failed=2)
    _, rows = await world.imports.failed_rows.execute(world.owner, created.id)
    assert {r.code for r in rows} == {"contact_email_taken"}
    assert len(world.store.state.contacts) == 2


async def test_a_bad_mapping_is_refused_before_anything_starts(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        await world.run(b"Email,First\nada@x.io,Ada\n", {"Email": "emails", "Nope": "first_name"})
    assert [e.code for e in caught.value.errors] == ["unknown_column"]
    assert world.store.state.contacts == {}
    assert list(world.tmp.iterdir()) == []


async def test_writing_needs_the_write_scope_and_reading_the_read_scope(world: World) -> None:
    reader = Principal(
        world.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.CONTACTS_READ})
    )
    with pytest.raises(MissingScope):
        await world.run(b"Email\nada@x.io\n", {"Email": "emails"}, who=reader)
    job = await world.run(b"Email\nada@x.io\n", {"Email": "emails"})
    writer = Principal(
        world.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset({Scope.CONTACTS_WRITE})
    )
    with pytest.raises(MissingScope):
        await world.imports.get.execute(writer, job.id)
    assert (await world.imports.get.execute(reader, job.id)).status is ImportStatus.DONE


async def test_another_workspace_never_finds_the_job(world: World) -> None:
    job = await world.run(b"Email\nada@x.io\n", {"Email": "emails"})
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(ImportNotFound):
        await world.imports.get.execute(stranger, job.id)
    with pytest.raises(ImportNotFound):
        await world.imports.failed_rows.execute(stranger, job.id)


async def test_stopping_the_process_marks_running_imports_interrupted(world: World) -> None:
    rows = b"".join(f"u{i}@x.io,U{i}\n".encode() for i in range(200))
    cmd = StartImportCommand(
        world.owner, ImportObject.CONTACTS, upload(b"Email,First\n" + rows), None, MAPPING
    )
    job = await world.imports.start.execute(cmd)
    await world.imports.runner.stop()
    found = await world.imports.get.execute(world.owner, job.id)
    assert (found.status, found.error) == (ImportStatus.FAILED, INTERRUPTED)
    assert found.counts.rows_done < 200
    assert list(world.tmp.iterdir()) == []


async def test_a_job_whose_process_died_reads_as_failed_once_it_is_stale(world: World) -> None:
    job = ImportJob(
        uuid4(),
        world.ws,
        ImportObject.CONTACTS,
        Dedupe.SKIP,
        "email",
        {"Email": "emails"},
        ("Email",),
        (),
        None,
        world.owner.actor_id,
        world.clock.now(),
    )
    await world.jobs.create(job)
    await world.jobs.start(world.ws, job.id, 10, world.clock.now())
    world.clock.advance(minutes=9)
    assert (await world.imports.get.execute(world.owner, job.id)).status is ImportStatus.RUNNING
    world.clock.advance(minutes=2)
    seen = await world.imports.get.execute(world.owner, job.id)
    assert (seen.status, seen.error) == (ImportStatus.FAILED, INTERRUPTED)


async def test_an_import_stopped_midway_keeps_the_rows_it_wrote(world: World) -> None:
    rows = b"".join(f"u{i}@x.io,U{i}\n".encode() for i in range(2000))
    cmd = StartImportCommand(
        world.owner, ImportObject.CONTACTS, upload(b"Email,First\n" + rows), None, MAPPING
    )
    job = await world.imports.start.execute(cmd)
    for _ in range(10_000):  # until the first chunk is written
        if (await world.imports.get.execute(world.owner, job.id)).counts.rows_done:
            break
        await asyncio.sleep(0.001)
    await world.imports.runner.stop()
    found = await world.imports.get.execute(world.owner, job.id)
    assert (found.status, found.error) == (ImportStatus.FAILED, INTERRUPTED)
    assert 0 < found.counts.created == len(world.store.state.contacts) < 2000


async def test_rows_of_one_record_in_one_file_apply_in_file_order(world: World) -> None:
    data = b"Email,First\nada@x.io,Ada\nbob@x.io,Bob\nADA@x.io ,Augusta\nada@x.io,Ava\n"
    world.imports.runner._chunk_rows = 10  # one chunk: the batch itself must not see twins
    skipped = await world.run(data)
    assert skipped.counts == ImportCounts(rows_done=4, created=2, skipped=2)
    updated = await world.run(data + b"cy@x.io,Cy\n", dedupe=Dedupe.UPDATE)
    assert updated.counts == ImportCounts(rows_done=5, created=1, updated=2, unchanged=2)
    assert world.contacts()["ada@x.io"].first_name == "Ava"


async def test_blank_rows_are_counted_as_skipped_with_their_reason(world: World) -> None:
    data = b"\n\nEmail,First\nada@x.io,Ada\n\n,\n , \nada@x.io,Ava\nbob@x.io,Bob\n\n"
    job = await world.run(data)
    assert (job.rows_total, job.status) == (7, ImportStatus.DONE)
    assert job.counts == ImportCounts(rows_done=7, created=2, skipped=5, skipped_blank=4)
    assert job.counts.skipped_by_reason() == {
        SkipReason.EXISTING_RECORD: 1,
        SkipReason.BLANK_ROW: 4,
    }
    _, failed = await world.imports.failed_rows.execute(world.owner, job.id)
    assert failed == []


async def test_deals_are_imported_and_matched_on_their_external_id(world: World) -> None:
    uow = lambda: InMemoryUnitOfWork(world.store)  # noqa: E731
    secrets = ApiKeySecrets(b"test-secret")
    made = await CreateWorkspace(uow, world.clock, Uuid7Generator(), secrets).execute(
        CreateWorkspaceCommand("Deals")  # its default pipeline is where deals go
    )
    assert made.api_key is not None
    world.owner = Principal(
        made.workspace.id, made.api_key.id, ActorKind.API_KEY, scopes=made.api_key.scopes
    )
    data = b"name,amount_minor,currency,external_id\nBig,125000,EUR,crm-1\nHuge,x,EUR,crm-2\n"
    cmd = StartImportCommand(world.owner, ImportObject.DEALS, upload(data), None, None)
    job = await world.imports.start.execute(cmd)
    await world.imports.runner.wait(job.id)
    first = await world.imports.get.execute(world.owner, job.id)
    assert (first.counts.created, first.counts.failed, first.match_on) == (1, 1, "external_id")
    _, rows = await world.imports.failed_rows.execute(world.owner, job.id)
    assert [(r.line, r.code) for r in rows] == [(3, "invalid_number")]
    again = b"name,amount_minor,currency,external_id\nBigger,250000,EUR,crm-1\n"
    cmd = StartImportCommand(
        world.owner, ImportObject.DEALS, upload(again), None, None, Dedupe.UPDATE
    )
    job = await world.imports.start.execute(cmd)
    await world.imports.runner.wait(job.id)
    assert (await world.imports.get.execute(world.owner, job.id)).counts.updated == 1
    [deal] = world.store.state.deals.values()
    assert (deal.name, deal.amount_minor) == ("Bigger", 250000)


async def test_imports_beyond_the_running_ones_wait_queued(tmp_path: Path) -> None:
    world = World(tmp_path, max_running=1)
    rows = b"".join(f"u{i}@x.io,U{i}\n".encode() for i in range(60))
    start = [
        StartImportCommand(world.owner, ImportObject.CONTACTS, upload(data), None, MAPPING)
        for data in (b"Email,First\n" + rows, b"Email,First\nzed@x.io,Zed\n")
    ]
    first = await world.imports.start.execute(start[0])
    second = await world.imports.start.execute(start[1])
    for _ in range(10_000):  # until the first one writes
        if (await world.imports.get.execute(world.owner, first.id)).counts.rows_done:
            break
        await asyncio.sleep(0.001)
    assert (await world.imports.get.execute(world.owner, second.id)).status is ImportStatus.QUEUED
    await world.imports.runner.wait(second.id)
    done = [await world.imports.get.execute(world.owner, j.id) for j in (first, second)]
    assert [j.status for j in done] == [ImportStatus.DONE, ImportStatus.DONE]
    assert len(world.store.state.contacts) == 61
