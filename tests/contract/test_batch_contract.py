"""One contract for batch writes (the BatchStores port under the batch use cases) and for
external ids, on memory and Postgres: per item, nothing left by a failed item, events only
for the items written, matches found the same way by both adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.deals import InMemoryDealReader
from crm.adapters.memory.readers import InMemoryContactReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.postgres import tables as t
from crm.adapters.postgres.deal_readers import AsyncpgDealReader
from crm.adapters.postgres.readers import AsyncpgContactReader
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import ExternalIdTaken
from crm.domain.model.permissions import ActorKind, Principal, Scope
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.use_cases import deals as d
from crm.domain.use_cases.batch import (
    BatchCommand,
    BatchCompanies,
    BatchContacts,
    BatchDeals,
    BatchOperation,
    ItemResult,
)
from crm.domain.use_cases.create_contact import CreateContact, CreateContactCommand
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.update_contact import UpdateContact, UpdateContactCommand
from crm.ports.deals import DealReader
from crm.ports.repositories import ContactReader
from crm.ports.unit_of_work import UnitOfWorkFactory
from tests.support.batch_results import company, contact, deal
from tests.support.stores import postgres

CREATE, UPDATE, UPSERT = BatchOperation.CREATE, BatchOperation.UPDATE, BatchOperation.UPSERT
PHONES = LibPhoneNumbers()


@dataclass
class Subject:
    uow: UnitOfWorkFactory
    contacts_read: ContactReader
    deals_read: DealReader
    topics: Callable[[], Awaitable[list[tuple[str, Any]]]]

    def __post_init__(self) -> None:
        clock, ids = ManualClock(), Uuid7Generator()
        self.contacts = BatchContacts(self.uow, clock, ids, PHONES)
        self.companies = BatchCompanies(self.uow, clock, ids, PHONES)
        self.deals = BatchDeals(self.uow, clock, ids, PHONES)
        self.create_contact = CreateContact(self.uow, clock, ids, PHONES)
        self.update_contact = UpdateContact(self.uow, clock, ids, PHONES)
        self.create_deal = d.CreateDeal(self.uow, clock, ids, PHONES)
        self.create_workspace = CreateWorkspace(self.uow, clock, ids, ApiKeySecrets(b"k"))


def codes(results: list[ItemResult]) -> list[str | None]:
    return [r.error.code if r.error else r.status.value for r in results]


class BatchContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    @pytest_asyncio.fixture
    async def who(self, subject: Subject) -> Principal:
        made = await subject.create_workspace.execute(CreateWorkspaceCommand("Acme"))
        scopes = frozenset({Scope.ADMIN})
        return Principal(made.workspace.id, uuid4(), ActorKind.API_KEY, scopes=scopes)

    async def test_good_items_are_written_and_a_bad_one_leaves_nothing(
        self, subject: Subject, who: Principal
    ) -> None:
        before = await subject.topics()
        items = [
            {"first_name": "Ada", "emails": ["a@x.io"], "tags": ["new-tag"]},
            {"first_name": "Bad", "emails": ["b@x.io"], "owner_id": str(uuid4())},
            {"first_name": "Cy", "emails": ["c@x.io"], "external_id": "c-1"},
            {"first_name": "Dup", "emails": ["C@x.io"]},
        ]
        results = await subject.contacts.execute(BatchCommand(who, CREATE, items))
        assert codes(results) == ["created", "validation_failed", "created", "duplicate_in_batch"]
        for r in results:
            if r.record is not None:
                stored = await subject.contacts_read.get(who.workspace_id, r.record.id)
                assert stored == r.record
        assert await subject.topics() == [
            *before,
            ("contact.created", contact(results[0]).id),
            ("contact.created", contact(results[2]).id),
        ]
        again = await subject.contacts.execute(
            BatchCommand(who, CREATE, [{"first_name": "B again", "emails": ["b@x.io"]}])
        )
        assert codes(again) == ["created"]  # the failed item claimed nothing

    async def test_upsert_finds_matches_by_each_key(self, subject: Subject, who: Principal) -> None:
        run = subject.contacts.execute
        [ada, bo] = await run(
            BatchCommand(
                who,
                CREATE,
                [
                    {"first_name": "Ada", "emails": ["a@x.io"], "phones": ["+14155550100"]},
                    {"first_name": "Bo", "external_id": "b-1", "phones": ["+14155550100"]},
                ],
            )
        )
        by_email = await run(BatchCommand(who, UPSERT, [{"emails": ["A@X.IO"], "job_title": "1"}]))
        by_id = await run(
            BatchCommand(who, UPSERT, [{"external_id": " b-1 ", "job_title": "2"}], "external_id")
        )
        by_phone = await run(
            BatchCommand(who, UPSERT, [{"phones": ["+1 415 555 0100"]}], match_on="phone")
        )
        assert [contact(by_email[0]).id, contact(by_id[0]).id] == [contact(ada).id, contact(bo).id]
        assert codes(by_phone) == ["ambiguous_match"]
        updated = await run(
            BatchCommand(
                who,
                UPDATE,
                [{"id": str(contact(ada).id), "emails": ["z@x.io"]}, {"id": str(contact(bo).id)}],
            )
        )
        assert codes(updated) == ["updated", "unchanged"]
        freed = await run(BatchCommand(who, CREATE, [{"emails": ["a@x.io"]}]))
        assert codes(freed) == ["created"]  # the email the update dropped is free again

    async def test_another_workspace_is_invisible(self, subject: Subject, who: Principal) -> None:
        made = await subject.create_workspace.execute(CreateWorkspaceCommand("Other"))
        other = Principal(made.workspace.id, uuid4(), ActorKind.API_KEY, scopes=who.scopes)
        [ada] = await subject.contacts.execute(
            BatchCommand(who, CREATE, [{"emails": ["a@x.io"], "external_id": "x"}])
        )
        theirs = await subject.contacts.execute(
            BatchCommand(
                other,
                UPSERT,
                [{"emails": ["a@x.io"], "external_id": "x"}, {"emails": ["q@x.io"]}],
            )
        )
        assert codes(theirs) == ["created", "created"]
        update = [{"id": str(contact(ada).id), "first_name": "Eve"}]
        assert codes(await subject.contacts.execute(BatchCommand(other, UPDATE, update))) == [
            "contact_not_found"
        ]

    async def test_single_writes_refuse_a_taken_external_id_naming_the_holder(
        self, subject: Subject, who: Principal
    ) -> None:
        ada = await subject.create_contact.execute(
            CreateContactCommand(who, {"first_name": "Ada", "external_id": "e-1"})
        )
        with pytest.raises(ExternalIdTaken, match=str(ada.id)):
            await subject.create_contact.execute(
                CreateContactCommand(who, {"first_name": "Bo", "external_id": "e-1"})
            )
        bo = await subject.create_contact.execute(CreateContactCommand(who, {"first_name": "Bo"}))
        with pytest.raises(ExternalIdTaken, match=str(ada.id)):
            await subject.update_contact.execute(
                UpdateContactCommand(who, bo.id, {"external_id": "e-1"})
            )
        one = await subject.create_deal.execute(
            d.CreateDealCommand(who, {"name": "One", "external_id": "e-1"})
        )
        read = await subject.deals_read.get(who.workspace_id, one.id)
        assert read is not None
        assert read.external_id == "e-1"
        with pytest.raises(ExternalIdTaken, match=str(one.id)):
            await subject.create_deal.execute(
                d.CreateDealCommand(who, {"name": "Two", "external_id": "e-1"})
            )

    async def test_companies_and_deals(self, subject: Subject, who: Principal) -> None:
        companies = await subject.companies.execute(
            BatchCommand(
                who,
                UPSERT,
                [{"name": "Acme", "domain": "acme.com"}, {"name": "Acme 2", "domain": "ACME.com"}],
            )
        )
        assert codes(companies) == ["created", "duplicate_in_batch"]
        again = await subject.companies.execute(
            BatchCommand(who, UPSERT, [{"name": "Acme Inc", "domain": "www.acme.com"}])
        )
        assert (codes(again), company(again[0]).id) == (["updated"], company(companies[0]).id)
        deals = await subject.deals.execute(
            BatchCommand(who, UPSERT, [{"name": "One", "external_id": "d-1"}, {"name": "Two"}])
        )
        assert codes(deals) == ["created", "validation_failed"]
        stored = await subject.deals_read.get(who.workspace_id, deal(deals[0]).id)
        assert stored == deals[0].record
        moved = await subject.deals.execute(
            BatchCommand(who, UPSERT, [{"name": "One!", "external_id": "d-1"}])
        )
        assert (codes(moved), deal(moved[0]).version) == (["updated"], 2)


class TestInMemory(BatchContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        store = MemoryStore()

        async def topics() -> list[tuple[str, Any]]:
            return [(e.topic, e.aggregate_id) for e in store.state.outbox]

        yield Subject(
            lambda: InMemoryUnitOfWork(store),
            InMemoryContactReader(store),
            InMemoryDealReader(store),
            topics,
        )


class TestPostgres(BatchContract):
    @pytest_asyncio.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with postgres(database_url) as (uow, pool):

            async def topics() -> list[tuple[str, Any]]:
                o = t.outbox_event.c
                async with uow() as tx:
                    query = select(o.topic, o.aggregate_id).order_by(o.occurred_at, o.id)
                    rows = await tx._conn.execute(query)
                    return [(r.topic, r.aggregate_id) for r in rows]

            yield Subject(uow, AsyncpgContactReader(pool), AsyncpgDealReader(pool), topics)
