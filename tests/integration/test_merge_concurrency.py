"""Racing merges on a real database: A←B against B←A, one source into two survivors, and a
merge against writes to the source. Exactly one merge of a pair wins, the loser gets a 404
problem (never a deadlock or a 500), and nothing is left half moved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from uuid import UUID

import asyncpg
import pytest_asyncio

from crm.domain.errors import (
    CompanyNotFound,
    ContactNotFound,
    DomainError,
    TransactionAborted,
)
from crm.domain.model.deal import LinkedObject
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Principal
from crm.domain.use_cases import companies as co
from crm.domain.use_cases import company_links as links
from crm.domain.use_cases import deals as d
from crm.domain.use_cases.create_contact import CreateContactCommand
from crm.domain.use_cases.deal_links import LinkCommand
from crm.domain.use_cases.merge_records import MergeCommand
from crm.domain.use_cases.notes import AddNoteCommand
from tests.support.api import Api, running_api, settings_for_tests


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


def failures(results: Iterable[object]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


async def contact_with_things(api: Api, who: Principal, name: str, company: UUID) -> UUID:
    c = api.container
    made = await c.create_contact.execute(
        CreateContactCommand(who, {"first_name": name, "emails": [f"{name}@example.com"]})
    )
    await c.link_company.execute(links.LinkCompanyCommand(who, made.id, company))
    for i in range(3):
        await c.add_note.execute(AddNoteCommand(who, RecordType.CONTACT, made.id, f"{name} {i}"))
    return made.id


async def test_a_to_b_racing_b_to_a_merges_once(api: Api, db: asyncpg.Connection) -> None:
    who = await principal(api)
    c = api.container
    acme = await c.create_company.execute(co.CreateCompanyCommand(who, {"name": "Acme"}))
    for round_ in range(5):
        a = await contact_with_things(api, who, f"a{round_}", acme.id)
        b = await contact_with_things(api, who, f"b{round_}", acme.id)
        results = await asyncio.gather(
            c.merge_contacts.execute(MergeCommand(who, a, b)),
            c.merge_contacts.execute(MergeCommand(who, b, a)),
            return_exceptions=True,
        )
        [lost] = failures(results)
        assert isinstance(lost, ContactNotFound), lost  # contact_merged, naming the winner
        [won] = [r for r in results if not isinstance(r, BaseException)]
        gone = b if won.id == a else a
        assert getattr(lost, "merged_into", None) == won.id
        left = await db.fetch("SELECT id FROM contact WHERE id = ANY($1::uuid[])", [a, b])
        assert [r["id"] for r in left] == [won.id]
        notes = await db.fetch(
            "SELECT record_id, count(*) AS n FROM note WHERE record_id = ANY($1::uuid[])"
            " GROUP BY record_id",
            [a, b],
        )
        assert [(r["record_id"], r["n"]) for r in notes] == [(won.id, 6)]
        emails = await db.fetch(
            "SELECT contact_id FROM contact_email WHERE email = ANY($1::text[])",
            [f"a{round_}@example.com", f"b{round_}@example.com"],
        )
        assert {r["contact_id"] for r in emails} == {won.id}
        graves = await db.fetch(
            "SELECT id, merged_into FROM merged_record WHERE id = ANY($1)", [a, b]
        )
        assert [(r["id"], r["merged_into"]) for r in graves] == [(gone, won.id)]
        company_links = await db.fetch(
            "SELECT contact_id, is_primary FROM contact_company WHERE contact_id = ANY($1)", [a, b]
        )
        assert [(r["contact_id"], r["is_primary"]) for r in company_links] == [(won.id, True)]
    events = await db.fetchval("SELECT count(*) FROM outbox_event WHERE topic = 'contact.merged'")
    assert events == 5


async def test_one_source_into_two_survivors_goes_to_one(api: Api, db: asyncpg.Connection) -> None:
    who = await principal(api)
    c = api.container
    acme = await c.create_company.execute(co.CreateCompanyCommand(who, {"name": "Acme"}))
    source = await contact_with_things(api, who, "source", acme.id)
    one = await contact_with_things(api, who, "one", acme.id)
    two = await contact_with_things(api, who, "two", acme.id)
    results = await asyncio.gather(
        c.merge_contacts.execute(MergeCommand(who, one, source)),
        c.merge_contacts.execute(MergeCommand(who, two, source)),
        return_exceptions=True,
    )
    [lost] = failures(results)
    assert isinstance(lost, ContactNotFound), lost
    [won] = [r for r in results if not isinstance(r, BaseException)]
    notes = await db.fetch(
        "SELECT record_id, count(*) AS n FROM note WHERE record_id = ANY($1) GROUP BY record_id",
        [source, one, two],
    )
    counts = {r["record_id"]: r["n"] for r in notes}
    loser = two if won.id == one else one
    assert counts == {won.id: 6, loser: 3}


async def test_notes_racing_a_merge_all_land_on_the_survivor(
    api: Api, db: asyncpg.Connection
) -> None:
    who = await principal(api)
    c = api.container
    acme = await c.create_company.execute(co.CreateCompanyCommand(who, {"name": "Acme"}))
    survivor = await contact_with_things(api, who, "survivor", acme.id)
    source = await contact_with_things(api, who, "source", acme.id)
    adds = [
        c.add_note.execute(AddNoteCommand(who, RecordType.CONTACT, source, f"late {i}"))
        for i in range(6)
    ]
    merge = c.merge_contacts.execute(MergeCommand(who, survivor, source))
    results = await asyncio.gather(merge, *adds, return_exceptions=True)
    assert not isinstance(results[0], BaseException), results[0]
    assert all(isinstance(e, ContactNotFound) for e in failures(results)), failures(results)
    added = len(results) - 1 - len(failures(results))
    on_source = await db.fetchval("SELECT count(*) FROM note WHERE record_id = $1", source)
    on_survivor = await db.fetchval("SELECT count(*) FROM note WHERE record_id = $1", survivor)
    assert (on_source, on_survivor) == (0, 6 + added)


async def test_companies_racing_each_other_merge_once(api: Api, db: asyncpg.Connection) -> None:
    who = await principal(api)
    c = api.container
    make = c.create_company.execute
    x = await make(co.CreateCompanyCommand(who, {"name": "X", "domain": "x.example"}))
    y = await make(co.CreateCompanyCommand(who, {"name": "Y", "domain": "y.example"}))
    ada = await c.create_contact.execute(CreateContactCommand(who, {"first_name": "Ada"}))
    await c.link_company.execute(links.LinkCompanyCommand(who, ada.id, x.id))
    await c.link_company.execute(links.LinkCompanyCommand(who, ada.id, y.id))
    results = await asyncio.gather(
        c.merge_companies.execute(MergeCommand(who, x.id, y.id)),
        c.merge_companies.execute(MergeCommand(who, y.id, x.id)),
        return_exceptions=True,
    )
    [lost] = failures(results)
    assert isinstance(lost, CompanyNotFound), lost
    [won] = [r for r in results if not isinstance(r, BaseException)]
    rows = await db.fetch(
        "SELECT company_id, is_primary FROM contact_company WHERE contact_id = $1", ada.id
    )
    assert [(r["company_id"], r["is_primary"]) for r in rows] == [(won.id, True)]
    assert await db.fetchval("SELECT count(*) FROM company WHERE id = ANY($1)", [x.id, y.id]) == 1


async def test_merges_racing_writers_that_lock_the_other_way_round_never_fail(
    api: Api, db: asyncpg.Connection
) -> None:
    """A deal link locks the deal, then the contact; a contact merge locks the contacts, then
    re-links their deals. When the database breaks such a cycle it aborts one transaction: an
    aborted merge runs again (nothing was written), an aborted writer gets a retryable error
    (503 with Retry-After), and nobody gets a 500."""
    who = await principal(api)
    c, u = api.container, api.container.sales
    acme = await c.create_company.execute(co.CreateCompanyCommand(who, {"name": "Acme"}))
    for round_ in range(3):
        survivor = await contact_with_things(api, who, f"s{round_}", acme.id)
        source = await contact_with_things(api, who, f"x{round_}", acme.id)
        deals = [
            await u.create_deal.execute(d.CreateDealCommand(who, {"name": f"D{i}"}))
            for i in range(3)
        ]
        for deal in deals:
            await u.link_deal.execute(LinkCommand(who, deal.id, LinkedObject.CONTACT, source))
        x, y = [
            await c.create_company.execute(co.CreateCompanyCommand(who, {"name": n})) for n in "XY"
        ]
        await c.link_company.execute(links.LinkCompanyCommand(who, survivor, y.id))
        results = await asyncio.gather(
            c.merge_contacts.execute(MergeCommand(who, survivor, source)),
            c.merge_companies.execute(MergeCommand(who, x.id, y.id)),
            *(
                u.link_deal.execute(LinkCommand(who, deal.id, LinkedObject.CONTACT, survivor))
                for deal in deals
            ),
            c.link_company.execute(links.LinkCompanyCommand(who, survivor, y.id, primary=True)),
            return_exceptions=True,
        )
        lost = failures(results)
        assert all(isinstance(e, DomainError | TransactionAborted) for e in lost), lost
        assert not isinstance(results[0], BaseException), results[0]
        assert not isinstance(results[1], BaseException), results[1]
        linked = await db.fetchval(
            "SELECT count(*) FROM deal_contact WHERE contact_id = $1", survivor
        )
        assert linked == 3
