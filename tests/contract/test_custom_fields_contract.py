"""One contract for the custom field and tag repositories and readers (and the contact
reader's use of them), run against the in-memory and the Postgres adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm.adapters.memory.custom_fields import InMemoryCustomFieldReader, InMemoryTagReader
from crm.adapters.memory.readers import InMemoryContactReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres import tables as t
from crm.adapters.postgres.custom_fields import visible_custom_fields
from crm.adapters.postgres.engine import create_engine
from crm.adapters.postgres.readers import AsyncpgContactReader
from crm.adapters.postgres.schema_readers import AsyncpgCustomFieldReader, AsyncpgTagReader
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import CustomFieldKeyTaken, TagNameTaken, VersionConflict
from crm.domain.model.custom_fields import CustomField, ObjectType
from crm.domain.model.tags import Tag
from crm.domain.pagination import PageRequest, SortOrder
from crm.ports.repositories import ContactReader, CustomFieldReader, TagReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.contract.test_persistence_contract import contact, every_page
from tests.support.stores import new_workspace, postgres

IDS = Uuid7Generator()
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    contacts: ContactReader
    fields: CustomFieldReader
    tags: TagReader


def definition(workspace_id: UUID, key: str, n: int = 0, **raw: Any) -> CustomField:
    values = {"object_type": "contact", "key": key, "label": key.title(), "field_type": "text"}
    return CustomField.create(
        IDS.new_id(), workspace_id, {**values, **raw}, T0 + timedelta(seconds=n)
    )


def tag(workspace_id: UUID, name: str, n: int = 0) -> Tag:
    return Tag.create(IDS.new_id(), workspace_id, {"name": name}, T0 + timedelta(seconds=n))


class FieldsAndTagsContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def workspace(self, subject: Subject) -> UUID:
        return await self.new_workspace(subject)

    async def new_workspace(self, subject: Subject) -> UUID:
        return await new_workspace(subject.uow)

    async def add_fields(self, subject: Subject, *fields: CustomField) -> None:
        async with subject.uow() as uow:
            for f in fields:
                await uow.custom_fields.add(f)
            await uow.commit()

    async def test_a_definition_reads_back_equal(self, subject: Subject, workspace: UUID) -> None:
        f = definition(
            workspace, "plan", field_type="multi_select", options=[{"value": "a", "label": "A"}]
        )
        await self.add_fields(subject, f)
        other = await self.new_workspace(subject)
        async with subject.uow() as uow:
            assert await uow.custom_fields.get(workspace, f.id) == f
            assert await uow.custom_fields.get_for_update(workspace, f.id) == f
            assert await uow.custom_fields.get(other, f.id) is None

    async def test_a_key_is_unique_per_object_type_and_workspace(
        self, subject: Subject, workspace: UUID
    ) -> None:
        await self.add_fields(subject, definition(workspace, "source"))
        with pytest.raises(CustomFieldKeyTaken):
            await self.add_fields(subject, definition(workspace, "source", field_type="number"))
        other = await self.new_workspace(subject)
        await self.add_fields(
            subject,
            definition(workspace, "source", object_type="deal"),
            definition(other, "source"),
        )
        async with subject.uow() as uow:
            page = await uow.custom_fields.list(workspace, PageRequest())
        assert sorted(f.object_type for f in page.items) == ["contact", "deal"]

    async def test_save_checks_the_version(self, subject: Subject, workspace: UUID) -> None:
        f = definition(workspace, "note")
        await self.add_fields(subject, f)
        async with subject.uow() as uow:
            loaded = await uow.custom_fields.get_for_update(workspace, f.id)
            assert loaded is not None
            loaded.apply({"archived": True, "label": "Old note"}, T0 + timedelta(hours=1))
            await uow.custom_fields.save(loaded, expected_version=1)
            await uow.commit()
        async with subject.uow() as uow:
            stored = await uow.custom_fields.get(workspace, f.id)
            assert stored is not None
            assert (stored.label, stored.archived_at, stored.version) == (
                "Old note",
                T0 + timedelta(hours=1),
                2,
            )
            with pytest.raises(VersionConflict):
                await uow.custom_fields.save(stored, expected_version=1)

    async def test_lists_page_by_creation_and_filter_by_object_type(
        self, subject: Subject, workspace: UUID
    ) -> None:
        fields = [
            definition(workspace, f"f{n}", n, object_type="deal" if n % 3 == 0 else "contact")
            for n in range(7)
        ]
        await self.add_fields(subject, *reversed(fields))

        async def listed(object_type: ObjectType | None) -> list[str]:
            async def fetch(page: PageRequest) -> Any:
                async with subject.uow() as uow:
                    return await uow.custom_fields.list(workspace, page, object_type)

            return [f.key for f in await every_page(fetch, 2)]

        assert await listed(None) == [f.key for f in fields]
        assert await listed(ObjectType.DEAL) == ["f0", "f3", "f6"]
        async with subject.uow() as uow:
            newest = await uow.custom_fields.list(
                workspace, PageRequest(3, order=SortOrder.NEWEST_FIRST), ObjectType.CONTACT
            )
        assert [f.key for f in newest.items] == ["f5", "f4", "f2"]

    async def test_the_schema_holds_the_object_types_definitions(
        self, subject: Subject, workspace: UUID
    ) -> None:
        other = await self.new_workspace(subject)
        archived = definition(workspace, "gone")
        archived.apply({"archived": True}, T0)
        await self.add_fields(
            subject,
            definition(workspace, "note"),
            archived,
            definition(workspace, "amount", object_type="deal"),
            definition(other, "elsewhere"),
        )
        async with subject.uow() as uow:
            schema = await uow.custom_fields.schema(workspace, ObjectType.CONTACT)
        assert sorted(schema.fields) == ["gone", "note"]
        assert schema.visible({"gone": 1, "note": 2, "legacy": 3}) == {"note": 2, "legacy": 3}

    async def test_contact_reads_hide_archived_values_and_keep_them(
        self, subject: Subject, workspace: UUID
    ) -> None:
        note = definition(workspace, "note")
        deal_note = definition(workspace, "score", object_type="deal")
        await self.add_fields(subject, note, deal_note)
        c = contact(workspace, custom_fields={"note": "n", "score": 1, "legacy": "x"})
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.commit()
        assert (await subject.contacts.get(workspace, c.id)) == c
        async with subject.uow() as uow:
            for f in (note, deal_note):
                loaded = await uow.custom_fields.get_for_update(workspace, f.id)
                assert loaded is not None
                loaded.apply({"archived": True}, T0)
                await uow.custom_fields.save(loaded, expected_version=1)
            await uow.commit()
        # Only the contact field's archiving hides anything on contacts.
        hidden = replace(c, custom_fields={"score": 1, "legacy": "x"})
        assert await subject.contacts.get(workspace, c.id) == hidden
        assert (await subject.contacts.list(workspace, PageRequest())).items == [hidden]
        async with subject.uow() as uow:
            stored = await uow.contacts.get_for_update(workspace, c.id)
        assert stored is not None
        assert stored.custom_fields == c.custom_fields

    async def test_tags_add_read_and_refuse_a_taken_name(
        self, subject: Subject, workspace: UUID
    ) -> None:
        vip = tag(workspace, "vip")
        async with subject.uow() as uow:
            await uow.tags.add(vip)
            await uow.commit()
        other = await self.new_workspace(subject)
        async with subject.uow() as uow:
            assert await uow.tags.get(workspace, vip.id) == vip
            assert await uow.tags.get(other, vip.id) is None
            with pytest.raises(TagNameTaken):
                await uow.tags.add(tag(workspace, "vip", 1))

    async def test_ensure_adds_only_missing_names(self, subject: Subject, workspace: UUID) -> None:
        other = await self.new_workspace(subject)
        async with subject.uow() as uow:
            await uow.tags.add(tag(workspace, "vip"))
            await uow.tags.ensure(workspace, ["vip", "emea", "emea", "apac"], T0)
            await uow.tags.ensure(other, [], T0)
            await uow.tags.ensure(other, ["vip"], T0)
            await uow.commit()

        async def names(ws: UUID) -> list[str]:
            async def fetch(page: PageRequest) -> Any:
                async with subject.uow() as uow:
                    return await uow.tags.list(ws, page)

            return sorted(t.name for t in await every_page(fetch, 2))

        assert await names(workspace) == ["apac", "emea", "vip"]
        assert await names(other) == ["vip"]

    async def test_rename_and_remove_reach_the_contacts_carrying_the_tag(
        self, subject: Subject, workspace: UUID
    ) -> None:
        other = await self.new_workspace(subject)
        ada = contact(workspace, 1, tags=("vip", "emea"))
        eve = contact(workspace, 2, tags=("emea",))
        stranger = contact(other, 3, tags=("vip",))
        vip = tag(workspace, "vip")
        async with subject.uow() as uow:
            for c in (ada, eve, stranger):
                await uow.contacts.add(c)
            await uow.tags.add(vip)
            await uow.tags.ensure(workspace, ["emea"], T0)
            await uow.tags.ensure(other, ["vip"], T0)
            await uow.commit()
        later = T0 + timedelta(days=1)
        async with subject.uow() as uow:
            loaded = await uow.tags.get_for_update(workspace, vip.id)
            assert loaded is not None
            loaded.apply({"name": "key account"}, later)
            await uow.tags.save(loaded, expected_version=1, previous_name="vip")
            await uow.commit()
        got = {c.id: c for c in (await subject.contacts.list(workspace, PageRequest())).items}
        assert (got[ada.id].tags, got[ada.id].version, got[ada.id].updated_at) == (
            ("key account", "emea"),
            2,
            later,
        )
        assert (got[eve.id].tags, got[eve.id].version) == (("emea",), 1)
        assert (await subject.contacts.get(other, stranger.id)) == stranger
        async with subject.uow() as uow:
            stale = await uow.tags.get(workspace, vip.id)
            assert stale is not None
            with pytest.raises(VersionConflict):
                await uow.tags.save(stale, expected_version=1)
            page = await uow.tags.list(workspace, PageRequest())
            [emea] = [t for t in page.items if t.name == "emea"]
            await uow.tags.remove(emea)
            await uow.commit()
        got = {c.id: c for c in (await subject.contacts.list(workspace, PageRequest())).items}
        assert (got[ada.id].tags, got[ada.id].version) == (("key account",), 3)
        assert (got[eve.id].tags, got[eve.id].version) == ((), 2)
        async with subject.uow() as uow:
            assert [t.name for t in (await uow.tags.list(workspace, PageRequest())).items] == [
                "key account"
            ]

    async def test_renaming_onto_a_taken_name_is_refused(
        self, subject: Subject, workspace: UUID
    ) -> None:
        vip, emea = tag(workspace, "vip"), tag(workspace, "emea", 1)
        async with subject.uow() as uow:
            await uow.tags.add(vip)
            await uow.tags.add(emea)
            await uow.commit()
        async with subject.uow() as uow:
            vip.apply({"name": "emea"}, T0)
            with pytest.raises(TagNameTaken):
                await uow.tags.save(vip, expected_version=1, previous_name="vip")

    async def test_contacts_filter_by_tags_with_keyset_pages(
        self, subject: Subject, workspace: UUID
    ) -> None:
        contacts = [
            contact(workspace, n, tags=("emea", "vip") if n % 2 else ("emea",)) for n in range(7)
        ]
        contacts = [
            replace(c, created_at=T0 + timedelta(seconds=i)) for i, c in enumerate(contacts)
        ]
        async with subject.uow() as uow:
            for c in contacts:
                await uow.contacts.add(c)
            await uow.commit()

        async def ids(tags: tuple[str, ...], order: SortOrder) -> list[UUID]:
            async def fetch(page: PageRequest) -> Any:
                return await subject.contacts.list(workspace, replace(page, order=order), tags)

            return [c.id for c in await every_page(fetch, 2)]

        odd = [c.id for i, c in enumerate(contacts) if i % 2]
        assert await ids(("vip",), SortOrder.OLDEST_FIRST) == odd
        assert await ids(("vip", "emea"), SortOrder.NEWEST_FIRST) == odd[::-1]
        assert await ids(("emea",), SortOrder.OLDEST_FIRST) == [c.id for c in contacts]
        assert await ids(("nope",), SortOrder.OLDEST_FIRST) == []

    # --- the readers (the read routes: one round trip each, no unit of work) ---------------

    async def test_the_field_reader_reads_committed_definitions_only(
        self, subject: Subject, workspace: UUID
    ) -> None:
        plan = definition(
            workspace,
            "plan",
            field_type="single_select",
            options=[{"value": "free", "label": "Free"}, {"value": "pro", "label": "Pro"}],
        )
        gone = definition(workspace, "gone", 1, object_type="deal")
        gone.apply({"archived": True}, T0 + timedelta(hours=1))
        await self.add_fields(subject, plan, gone)
        other = await self.new_workspace(subject)
        assert await subject.fields.get(workspace, plan.id) == plan
        assert await subject.fields.get(workspace, gone.id) == gone
        assert await subject.fields.get(other, plan.id) is None
        assert await subject.fields.get(workspace, IDS.new_id()) is None
        read = await subject.fields.get(workspace, plan.id)
        assert read is not None
        read.label = "changed by the caller"
        assert await subject.fields.get(workspace, plan.id) == plan
        pending = definition(workspace, "pending", 2)
        async with subject.uow() as uow:
            await uow.custom_fields.add(pending)
            assert await subject.fields.get(workspace, pending.id) is None
            listed = await subject.fields.list(workspace, PageRequest())
            assert [f.key for f in listed.items] == ["gone", "plan"]  # newest first by default

    async def test_the_field_reader_lists_page_by_creation_and_filter_by_object_type(
        self, subject: Subject, workspace: UUID
    ) -> None:
        fields = [
            definition(workspace, f"f{n}", n, object_type="deal" if n % 3 == 0 else "contact")
            for n in range(7)
        ]
        fields[4].apply({"archived": True}, T0)
        await self.add_fields(subject, *reversed(fields))
        other = await self.new_workspace(subject)
        await self.add_fields(subject, definition(other, "f0"), definition(other, "x", 9))

        async def listed(object_type: ObjectType | None, order: SortOrder) -> list[str]:
            async def fetch(page: PageRequest) -> Any:
                return await subject.fields.list(workspace, replace(page, order=order), object_type)

            return [f.key for f in await every_page(fetch, 2)]

        keys = [f.key for f in fields]
        assert await listed(None, SortOrder.OLDEST_FIRST) == keys
        assert await listed(None, SortOrder.NEWEST_FIRST) == keys[::-1]
        assert await listed(ObjectType.DEAL, SortOrder.OLDEST_FIRST) == ["f0", "f3", "f6"]
        assert await listed(ObjectType.CONTACT, SortOrder.NEWEST_FIRST) == [
            "f5",
            "f4",
            "f2",
            "f1",
        ]
        assert await listed(ObjectType.COMPANY, SortOrder.OLDEST_FIRST) == []
        first = await subject.fields.list(workspace, PageRequest(3))
        assert first.items == fields[:-4:-1]  # newest first by default
        assert first.next is not None
        everything = await subject.fields.list(workspace, PageRequest(7))
        assert (everything.items, everything.next) == (fields[::-1], None)
        empty = await subject.fields.list(await self.new_workspace(subject), PageRequest())
        assert (empty.items, empty.next) == ([], None)

    async def test_the_tag_reader_gets_and_lists_the_committed_catalogue(
        self, subject: Subject, workspace: UUID
    ) -> None:
        tags = [tag(workspace, f"t{n}", n) for n in range(5)]
        tags[1].apply({"color": "#ff0000"}, T0 + timedelta(hours=1))
        other = await self.new_workspace(subject)
        async with subject.uow() as uow:
            for t_ in reversed(tags):
                await uow.tags.add(t_)
            await uow.tags.add(tag(other, "t0"))
            await uow.commit()
        assert await subject.tags.get(workspace, tags[1].id) == tags[1]
        assert await subject.tags.get(other, tags[1].id) is None
        assert await subject.tags.get(workspace, IDS.new_id()) is None

        async def listed(order: SortOrder) -> list[Tag]:
            async def fetch(page: PageRequest) -> Any:
                return await subject.tags.list(workspace, replace(page, order=order))

            return await every_page(fetch, 2)

        assert await listed(SortOrder.OLDEST_FIRST) == tags
        assert await listed(SortOrder.NEWEST_FIRST) == tags[::-1]
        async with subject.uow() as uow:
            await uow.tags.add(tag(workspace, "pending", 9))
            assert await listed(SortOrder.OLDEST_FIRST) == tags
            loaded = await uow.tags.get_for_update(workspace, tags[0].id)
            assert loaded is not None
            await uow.tags.remove(loaded)
            assert await subject.tags.get(workspace, tags[0].id) == tags[0]


class TestInMemory(FieldsAndTagsContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()
        yield Subject(
            lambda: InMemoryUnitOfWork(store),
            InMemoryContactReader(store),
            InMemoryCustomFieldReader(store),
            InMemoryTagReader(store),
        )


class TestPostgres(FieldsAndTagsContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):
            yield Subject(
                uow,
                AsyncpgContactReader(pool),
                AsyncpgCustomFieldReader(pool),
                AsyncpgTagReader(pool),
            )

    async def test_rename_and_remove_reach_companies_and_deals_too(
        self, subject: Subject, workspace: UUID, db: asyncpg.Connection
    ) -> None:
        company_id, pipeline_id, stage_id = IDS.new_id(), IDS.new_id(), IDS.new_id()
        await db.execute(
            "INSERT INTO company (id, workspace_id, name, tags, created_at, updated_at, version)"
            " VALUES ($1, $2, 'Acme', ARRAY['vip', 'emea'], $3, $3, 1)",
            company_id,
            workspace,
            T0,
        )
        await db.execute(
            "INSERT INTO pipeline (id, workspace_id, name, created_at, updated_at, version)"
            " VALUES ($1, $2, 'P', $3, $3, 1)",
            pipeline_id,
            workspace,
            T0,
        )
        await db.execute(
            "INSERT INTO pipeline_stage (id, workspace_id, pipeline_id, name, position,"
            " probability, kind, created_at) VALUES ($1, $2, $3, 'S', 0, 10, 'open', $4)",
            stage_id,
            workspace,
            pipeline_id,
            T0,
        )
        deal_id = IDS.new_id()
        await db.execute(
            "INSERT INTO deal (id, workspace_id, name, pipeline_id, stage_id, status, tags,"
            " created_at, updated_at, version)"
            " VALUES ($1, $2, 'D', $3, $4, 'open', ARRAY['vip'], $5, $5, 1)",
            deal_id,
            workspace,
            pipeline_id,
            stage_id,
            T0,
        )
        async with subject.uow() as uow:
            await uow.tags.ensure(workspace, ["vip", "emea"], T0)
            await uow.commit()
        async with subject.uow() as uow:
            page = await uow.tags.list(workspace, PageRequest())
            tags = {t.name: t for t in page.items}
            vip = tags["vip"]
            vip.apply({"name": "key account"}, T0 + timedelta(days=1))
            await uow.tags.save(vip, expected_version=1, previous_name="vip")
            await uow.tags.remove(tags["emea"])
            await uow.commit()
        company = await db.fetchrow("SELECT tags, version FROM company WHERE id = $1", company_id)
        deal = await db.fetchrow("SELECT tags, version FROM deal WHERE id = $1", deal_id)
        assert company is not None
        assert deal is not None
        assert (company["tags"], company["version"]) == (["key account"], 3)
        assert (deal["tags"], deal["version"]) == (["key account"], 2)

    async def test_the_visibility_helper_works_in_sqlalchemy_statements_too(
        self, subject: Subject, workspace: UUID, database_url: str
    ) -> None:
        note = definition(workspace, "note")
        note.apply({"archived": True}, T0)
        await self.add_fields(subject, note, definition(workspace, "score", object_type="deal"))
        c = contact(workspace, custom_fields={"note": "n", "score": 1})
        async with subject.uow() as uow:
            await uow.contacts.add(c)
            await uow.commit()
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                query = select(visible_custom_fields(t.contact, ObjectType.CONTACT)).where(
                    t.contact.c.id == c.id
                )
                assert (await conn.execute(query)).scalar_one() == {"score": 1}
        finally:
            await engine.dispose()
