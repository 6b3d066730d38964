"""Attachment use cases on the memory adapters and the local file store: who may attach,
read and delete (a note's attachments follow its record's actions), what confirming checks,
and attachments whose record is gone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from crm import bootstrap
from crm.adapters.localfs.blobs import LocalBlobStore
from crm.adapters.memory.clock import ManualClock
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import ContactNotFound, InvalidInput, NoteNotFound
from crm.domain.model.attachments import (
    AttachedTo,
    AttachmentNotFound,
    AttachmentNotReady,
    UploadMismatch,
    UploadMissing,
    check_filename,
)
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import ActorKind, MissingScope, Principal, Role, Scope
from crm.domain.pagination import PageRequest
from crm.domain.use_cases import notes as nt
from crm.domain.use_cases.attachment_access import RecordReaders
from crm.domain.use_cases.attachments import (
    AttachmentUseCases,
    StartAttachmentCommand,
    StartedAttachment,
)
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.delete_contact import DeleteContact, DeleteContactCommand

PDF = "application/pdf"


class World:
    def __init__(self, root: Path) -> None:
        self.clock = ManualClock(datetime.now(UTC))
        ids, storage = Uuid7Generator(), bootstrap.memory_storage()
        uow = storage.uow
        self.files = LocalBlobStore(root, "http://files.test", b"s" * 32, self.clock)
        records = RecordReaders(storage.contacts, storage.companies, storage.deals, storage.notes)
        self.uc = AttachmentUseCases.build(uow, self.clock, ids, self.files, records, 1000)
        self.create_contact = CreateContact(uow, self.clock, ids, LibPhoneNumbers())
        self.delete_contact = DeleteContact(uow, self.clock, ids)
        self.add_note = nt.AddNote(uow, self.clock, ids)
        self.ws = uuid4()
        self.admin = self.person(Role.ADMIN)

    def person(self, role: Role) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.USER, role=role)

    def key(self, *scopes: Scope) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))

    async def contact(self) -> UUID:
        cmd = CreateContactCommand(self.admin, {"first_name": "Ada"})
        return (await self.create_contact.execute(cmd)).id

    async def start(
        self, who: Principal, kind: AttachedTo, record: UUID, content_type: str = PDF
    ) -> StartedAttachment:
        cmd = StartAttachmentCommand(who, kind, record, "q1.pdf", content_type)
        return await self.uc.start.execute(cmd)


@pytest.fixture
def w(tmp_path: Path) -> World:
    return World(tmp_path)


async def test_confirm_checks_what_arrived(w: World) -> None:
    started = await w.start(w.admin, AttachedTo.CONTACT, await w.contact())
    a = started.attachment
    assert started.upload.max_bytes == 1000  # the configured limit is the default
    with pytest.raises(UploadMissing):
        await w.uc.confirm.execute(w.admin, a.id)
    await w.files.put(w.ws, a.key, b"<html>", "text/html")  # not through the form
    with pytest.raises(UploadMismatch):
        await w.uc.confirm.execute(w.admin, a.id)
    assert await w.files.head(w.ws, a.key) is None  # removed, so the form can be used again
    await w.files.put(w.ws, a.key, b"%PDF", PDF)
    ready = await w.uc.confirm.execute(w.admin, a.id)
    assert (ready.size, ready.version, ready.confirmed_at) == (4, 2, w.clock.now())
    assert (await w.uc.download.execute(w.admin, a.id)).url.startswith("http://files.test/")


async def test_a_larger_limit_than_configured_is_refused(w: World) -> None:
    contact = await w.contact()
    cmd = StartAttachmentCommand(w.admin, AttachedTo.CONTACT, contact, "a.pdf", PDF, 1001)
    with pytest.raises(InvalidInput):
        await w.uc.start.execute(cmd)


async def test_a_notes_attachments_follow_its_records_actions(w: World) -> None:
    note = await w.add_note.execute(
        nt.AddNoteCommand(w.admin, RecordType.CONTACT, await w.contact(), "See the quote")
    )
    with pytest.raises(MissingScope):
        await w.start(w.key(Scope.DEALS_WRITE), AttachedTo.NOTE, note.id)
    started = await w.start(w.key(Scope.CONTACTS_WRITE), AttachedTo.NOTE, note.id)
    reader = w.key(Scope.CONTACTS_READ)
    assert (await w.uc.get.execute(reader, started.attachment.id)).id == started.attachment.id
    with pytest.raises(MissingScope):
        await w.uc.get.execute(w.key(Scope.DEALS_READ), started.attachment.id)
    with pytest.raises(MissingScope):
        await w.uc.delete.execute(reader, started.attachment.id)
    with pytest.raises(AttachmentNotReady):
        await w.uc.download.execute(reader, started.attachment.id)
    with pytest.raises(NoteNotFound):
        await w.start(w.admin, AttachedTo.NOTE, uuid4())


async def test_an_attachment_whose_record_is_gone_is_gone(w: World) -> None:
    contact = await w.contact()
    started = await w.start(w.admin, AttachedTo.CONTACT, contact)
    await w.delete_contact.execute(DeleteContactCommand(w.admin, contact))
    with pytest.raises(AttachmentNotFound):
        await w.uc.get.execute(w.admin, started.attachment.id)
    with pytest.raises(ContactNotFound):
        await w.uc.list.execute(w.admin, AttachedTo.CONTACT, contact, PageRequest())


async def test_another_workspace_sees_nothing(w: World) -> None:
    started = await w.start(w.admin, AttachedTo.CONTACT, await w.contact())
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    for use_case in (w.uc.get, w.uc.confirm, w.uc.download, w.uc.delete):
        with pytest.raises(AttachmentNotFound):
            await use_case.execute(stranger, started.attachment.id)
    with pytest.raises(ContactNotFound):
        await w.start(stranger, AttachedTo.CONTACT, started.attachment.record_id)


@pytest.mark.parametrize("name", ["", " ", "a/b", "a\\b", "..", "a\x00b", "a\tb", "x" * 256])
def test_a_filename_is_a_name(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_filename(name)


def test_a_filename_may_be_any_name() -> None:
    assert check_filename("Relatório Q1 (final).pdf") == "Relatório Q1 (final).pdf"
