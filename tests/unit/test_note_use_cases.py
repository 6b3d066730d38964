"""Note use cases on the memory adapters."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.notes import InMemoryNoteReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    CompanyNotFound,
    ContactNotFound,
    InvalidCursor,
    InvalidInput,
    NoteNotFound,
    VersionConflict,
)
from crm.domain.model.events import NoteAdded, NoteDeleted, NoteUpdated
from crm.domain.model.note import MAX_NOTE_TEXT, Note, NotePosition, RecordType
from crm.domain.model.permissions import (
    ActorKind,
    MissingScope,
    Principal,
    Role,
    RoleForbids,
    Scope,
)
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import notes as nt
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.delete_contact import DeleteContact, DeleteContactCommand

C = RecordType.CONTACT


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        ids, phones = Uuid7Generator(), LibPhoneNumbers()
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        reader = InMemoryNoteReader(self.store)
        self.add_uc = nt.AddNote(uow, self.clock, ids)
        self.update = nt.UpdateNote(uow, self.clock, ids)
        self.delete = nt.DeleteNote(uow, self.clock, ids)
        self.get = nt.GetNote(reader)
        self.list = nt.ListNotes(reader)
        self.create_contact = CreateContact(uow, self.clock, ids, phones)
        self.delete_contact = DeleteContact(uow, self.clock, ids)
        self.create_company = co.CreateCompany(uow, self.clock, ids, phones)
        self.delete_company = co.DeleteCompany(uow, self.clock, ids)
        self.ws = uuid4()
        self.admin = self.person(Role.ADMIN)

    def person(self, role: Role) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.USER, role=role)

    def key(self, *scopes: Scope) -> Principal:
        return Principal(self.ws, uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))

    async def contact(self) -> UUID:
        made = await self.create_contact.execute(
            CreateContactCommand(self.admin, {"first_name": "Ada"})
        )
        return made.id

    async def add(
        self, record: UUID, text: str = "Hello", who: Principal | None = None, **kw: bool
    ) -> Note:
        cmd = nt.AddNoteCommand(who or self.admin, C, record, text, kw.get("pinned", False))
        return await self.add_uc.execute(cmd)


@pytest.fixture
def world() -> World:
    return World()


async def test_a_note_is_added_by_its_author_and_recorded(world: World) -> None:
    contact = await world.contact()
    note = await world.add(contact, "  Called Ada.  ")
    assert (note.text, note.author_id, note.record_id, note.pinned, note.version) == (
        "Called Ada.",
        world.admin.actor_id,
        contact,
        False,
        1,
    )
    assert world.store.state.notes[note.id].text == "Called Ada."
    assert [type(e) for e in world.store.state.outbox][-1] is NoteAdded
    assert await world.get.execute(world.admin, note.id) == note


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_NOTE_TEXT + 1)])
async def test_blank_or_too_long_text_is_refused(world: World, text: str) -> None:
    contact = await world.contact()
    with pytest.raises(InvalidInput) as e:
        await world.add(contact, text)
    assert e.value.errors[0].field == "/text"
    assert world.store.state.notes == {}


async def test_the_longest_text_is_accepted(world: World) -> None:
    note = await world.add(await world.contact(), "x" * MAX_NOTE_TEXT)
    assert len(note.text) == MAX_NOTE_TEXT


async def test_a_note_on_a_missing_or_foreign_record_is_not_found(world: World) -> None:
    with pytest.raises(ContactNotFound):
        await world.add(uuid4())
    contact = await world.contact()
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(ContactNotFound):
        await world.add(contact, who=stranger)
    with pytest.raises(CompanyNotFound):
        await world.add_uc.execute(nt.AddNoteCommand(world.admin, RecordType.COMPANY, contact, "x"))
    assert world.store.state.notes == {}


async def test_notes_list_pinned_first_then_newest_in_keyset_pages(world: World) -> None:
    contact = await world.contact()
    made = []
    for i in range(5):
        made.append(await world.add(contact, f"n{i}", pinned=i in (1, 3)))
        world.clock.advance(seconds=1)
    await world.add(await world.contact(), "elsewhere")
    seen, after = [], None
    while True:
        page = await world.list.execute(world.admin, C, contact, 2, after)
        seen += [n.text for n in page.items]
        if page.next is None:
            break
        after = NotePosition.decode(page.next.encode())
    assert seen == ["n3", "n1", "n4", "n2", "n0"]


async def test_listing_a_missing_record_is_not_found(world: World) -> None:
    with pytest.raises(ContactNotFound):
        await world.list.execute(world.admin, C, uuid4(), 10)


def test_a_cursor_of_another_list_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        NotePosition.decode("bm90LWEtY3Vyc29y")


async def test_reading_and_writing_notes_need_the_record_actions(world: World) -> None:
    contact = await world.contact()
    note = await world.add(contact)
    companies_only = world.key(Scope.COMPANIES_READ, Scope.COMPANIES_WRITE)
    with pytest.raises(MissingScope):
        await world.list.execute(companies_only, C, contact, 10)
    with pytest.raises(MissingScope):
        await world.get.execute(companies_only, note.id)
    with pytest.raises(MissingScope):
        await world.add(contact, who=world.key(Scope.CONTACTS_READ))
    reader = world.key(Scope.CONTACTS_READ)
    assert (await world.list.execute(reader, C, contact, 10)).items == [note]


async def test_members_change_only_their_own_notes_admins_any(world: World) -> None:
    contact = await world.contact()
    alice, bob = world.person(Role.MEMBER), world.person(Role.MEMBER)
    note = await world.add(contact, "Alice's", who=alice)
    with pytest.raises(RoleForbids):
        await world.update.execute(nt.UpdateNoteCommand(bob, note.id, {"text": "Bob's"}))
    with pytest.raises(RoleForbids):
        await world.delete.execute(nt.DeleteNoteCommand(bob, note.id))
    assert world.store.state.notes[note.id].text == "Alice's"
    changed = await world.update.execute(nt.UpdateNoteCommand(alice, note.id, {"pinned": True}))
    assert (changed.pinned, changed.version) == (True, 2)
    admin_edit = nt.UpdateNoteCommand(world.admin, note.id, {"text": "Edited"})
    assert (await world.update.execute(admin_edit)).text == "Edited"
    assert isinstance(world.store.state.outbox[-1], NoteUpdated)
    await world.delete.execute(nt.DeleteNoteCommand(world.admin, note.id))
    assert note.id not in world.store.state.notes
    assert isinstance(world.store.state.outbox[-1], NoteDeleted)


async def test_an_update_that_changes_nothing_keeps_the_version(world: World) -> None:
    note = await world.add(await world.contact(), "Same")
    same = await world.update.execute(nt.UpdateNoteCommand(world.admin, note.id, {"text": "Same"}))
    assert same.version == 1


@pytest.mark.parametrize("changes", [{"text": None}, {"pinned": None}, {"text": " "}])
async def test_text_and_pinned_cannot_be_cleared(world: World, changes: dict[str, object]) -> None:
    note = await world.add(await world.contact(), "Kept")
    with pytest.raises(InvalidInput):
        await world.update.execute(nt.UpdateNoteCommand(world.admin, note.id, changes))
    assert world.store.state.notes[note.id].text == "Kept"


async def test_a_stale_if_match_fails(world: World) -> None:
    note = await world.add(await world.contact())
    with pytest.raises(VersionConflict):
        await world.update.execute(nt.UpdateNoteCommand(world.admin, note.id, {"text": "x"}, 7))
    with pytest.raises(VersionConflict):
        await world.delete.execute(nt.DeleteNoteCommand(world.admin, note.id, 7))
    assert world.store.state.notes[note.id].text == "Hello"


async def test_another_workspace_note_is_not_found(world: World) -> None:
    note = await world.add(await world.contact())
    stranger = Principal(uuid4(), uuid4(), ActorKind.USER, role=Role.OWNER)
    with pytest.raises(NoteNotFound):
        await world.get.execute(stranger, note.id)
    with pytest.raises(NoteNotFound):
        await world.update.execute(nt.UpdateNoteCommand(stranger, note.id, {"text": "x"}))
    with pytest.raises(NoteNotFound):
        await world.delete.execute(nt.DeleteNoteCommand(stranger, note.id))
    assert world.store.state.notes[note.id].text == "Hello"


async def test_deleting_a_record_deletes_its_notes_only(world: World) -> None:
    doomed, kept = await world.contact(), await world.contact()
    gone = await world.add(doomed)
    stays = await world.add(kept)
    await world.delete_contact.execute(DeleteContactCommand(world.admin, doomed))
    assert set(world.store.state.notes) == {stays.id}
    with pytest.raises(NoteNotFound):
        await world.get.execute(world.admin, gone.id)
    company = await world.create_company.execute(
        co.CreateCompanyCommand(world.admin, {"name": "A"})
    )
    on_company = await world.add_uc.execute(
        nt.AddNoteCommand(world.admin, RecordType.COMPANY, company.id, "x")
    )
    await world.delete_company.execute(co.DeleteCompanyCommand(world.admin, company.id))
    assert on_company.id not in world.store.state.notes
