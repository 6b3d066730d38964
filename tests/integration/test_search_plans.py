"""The contact list, a search by email and a fuzzy search use indexes, not a sequential scan
of contacts, on a table large enough for the planner to choose (50,000 contacts in four
workspaces). The statements explained are the very ones the adapters send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
import pytest

from crm.adapters.postgres.readers import _LIST
from crm.adapters.postgres.search import search_sql
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.search import SearchParser
from crm.domain.pagination import SortOrder
from crm.domain.search_paging import SearchPage, SearchPosition

ROWS = 50_000
WORKSPACES = [uuid4() for _ in range(4)]


async def seed(db: asyncpg.Connection) -> None:
    await db.executemany(
        "INSERT INTO workspace (id, name, created_at) VALUES ($1, 'W', now())",
        [(w,) for w in WORKSPACES],
    )
    await db.execute(
        "INSERT INTO contact (id, workspace_id, first_name, last_name, emails, phones, tags,"
        " lifecycle_stage, custom_fields, created_at, updated_at, version)"
        " SELECT gen_random_uuid(), ($1::uuid[])[1 + n % 4], 'First' || n, 'Last' || n,"
        " ARRAY['user' || n || '@example' || (n % 500) || '.com'],"
        " ARRAY['+1415' || lpad(n::text, 7, '0')], ARRAY['t' || (n % 50)], 'lead', '{}',"
        " now() - n * interval '1 second', now(), 1 FROM generate_series(1, $2) n",
        WORKSPACES,
        ROWS,
    )
    await db.execute(
        "INSERT INTO contact_email (workspace_id, email, contact_id)"
        " SELECT workspace_id, emails[1], id FROM contact"
    )
    await db.execute("ANALYZE contact; ANALYZE contact_email")


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


async def plan_of(db: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    raw = await db.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    return list(nodes(orjson.loads(raw)[0]["Plan"]))


def search(
    workspace: UUID, body: dict[str, Any], q: str | None = None, after: Any = None
) -> tuple[str, list[Any]]:
    parser = SearchParser(ObjectType.CONTACT, lambda raw: raw)
    return search_sql(workspace, parser.parse(body, q), SearchPage(50, after))


@pytest.fixture
async def seeded(db: asyncpg.Connection) -> asyncpg.Connection:
    await seed(db)
    return db


def by_email(email: str, operator: str = "eq") -> dict[str, Any]:
    condition = {"field": "email", "operator": operator, "value": email}
    return {"filter_groups": [{"filters": [condition]}]}


async def test_no_statement_scans_every_contact(seeded: asyncpg.Connection) -> None:
    ws = WORKSPACES[1]
    statements = {
        "list": (_LIST[(SortOrder.NEWEST_FIRST, False, False)], [ws, 51]),
        "email": search(ws, by_email("user4241@example241.com")),
        "email domain": search(ws, by_email("@example241.com", "ends_with")),
        "fuzzy": search(ws, {}, "Lsat4241"),
        "everything": search(ws, {}),
        "next page": search(ws, {}, after=SearchPosition(datetime.now(UTC), uuid4())),
        "substring": search(ws, {}, "user4241@"),
    }
    used: dict[str, set[str]] = {}
    kinds: dict[str, list[str]] = {}
    for name, (sql, args) in statements.items():
        plan = await plan_of(seeded, sql, *args)
        scans = [(n["Node Type"], n.get("Relation Name")) for n in plan]
        assert ("Seq Scan", "contact") not in scans, (name, scans)
        used[name] = {n["Index Name"] for n in plan if "Index Name" in n}
        kinds[name] = [n["Node Type"] for n in plan]
    for name in ("list", "everything", "next page"):
        # Walked in index order: no sort of the whole workspace, whatever the page.
        assert "ix_contact_workspace_id_created_at_id" in used[name], used
        assert "Sort" not in kinds[name], kinds
    assert "pk_contact_email" in used["email"], used
    assert "ix_contact_search_text" in used["fuzzy"] | used["substring"], used


async def test_the_statements_find_what_they_should(seeded: asyncpg.Connection) -> None:
    ws = WORKSPACES[1]
    sql, args = search(ws, by_email("user4241@example241.com"))
    assert [r["first_name"] for r in await seeded.fetch(sql, *args)] == ["First4241"]
    sql, args = search(ws, {**by_email("@EXAMPLE241.com", "ends_with"), "sort": "created_at"})
    found = [r["first_name"] for r in await seeded.fetch(sql, *args)]
    # n % 500 == 241 (then n % 4 == 1, this workspace): the oldest first, a page (limit + 1).
    assert found[:2] == ["First49741", "First49241"]
    assert len(found) == 51
    # A fuzzy `q` also finds close words (user41 is close to user4241), never far ones.
    sql, args = search(ws, {}, "user4241@")
    found = [r["first_name"] for r in await seeded.fetch(sql, *args)]
    assert "First4241" in found
    assert "First4242" not in found
