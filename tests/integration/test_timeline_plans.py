"""A record's timeline and the audit log read through indexes, never a sequential scan of the
outbox, on tables large enough for the planner to choose (60,000 events in four workspaces,
each concerning its contact and half of them a company too). The statements explained are the
very ones the event reader sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
import pytest

from crm.adapters.postgres.event_readers import _TIMELINES, audit_query
from crm.domain.model.note import RecordType
from crm.domain.model.timeline import AuditFilter, EventPosition

EVENTS = 60_000
WORKSPACES = [uuid4() for _ in range(4)]
COMPANY = UUID("10000000-0000-0000-0000-000000000001")


async def seed(db: asyncpg.Connection) -> tuple[UUID, UUID, UUID]:
    """Contacts with 30 events each, half of all events also about one company; a contact of
    the second workspace and that company."""
    await db.executemany(
        "INSERT INTO workspace (id, name, created_at) VALUES ($1, 'W', now())",
        [(w,) for w in WORKSPACES],
    )
    await db.execute(
        "INSERT INTO contact (id, workspace_id, first_name, emails, phones, tags,"
        " lifecycle_stage, custom_fields, created_at, updated_at, version)"
        " SELECT ('00000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid,"
        " ($1::uuid[])[1 + n % 4], 'C' || n, '{}', '{}', '{}', 'lead', '{}', now(), now(), 1"
        " FROM generate_series(0, $2 / 30 - 1) n",
        WORKSPACES,
        EVENTS,
    )
    await db.execute(
        "INSERT INTO outbox_event (id, workspace_id, topic, aggregate_type, aggregate_id,"
        " actor_id, payload, occurred_at)"
        " SELECT gen_random_uuid(), c.workspace_id, 'contact.updated', 'contact', c.id, NULL,"
        " '{}', now() - (n * interval '1 second')"
        " FROM generate_series(0, $1 - 1) n"
        " JOIN contact c ON c.id = ('00000000-0000-0000-0000-' || lpad((n % ($1 / 30))::text,"
        " 12, '0'))::uuid",
        EVENTS,
    )
    await db.execute(
        "INSERT INTO outbox_event_record SELECT workspace_id, 'contact', aggregate_id,"
        " occurred_at, id FROM outbox_event;"
        f" INSERT INTO outbox_event_record SELECT workspace_id, 'company', '{COMPANY}',"
        " occurred_at, id FROM outbox_event WHERE get_byte(uuid_send(id), 15) % 2 = 0;"
        " ANALYZE outbox_event; ANALYZE outbox_event_record; ANALYZE contact"
    )
    row = await db.fetchrow(
        "SELECT id, workspace_id FROM contact WHERE workspace_id = $1 LIMIT 1", WORKSPACES[1]
    )
    assert row is not None, "the seed wrote no contact in the workspace"
    return row["workspace_id"], row["id"], COMPANY


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


async def plan_of(db: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    raw = await db.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    return list(nodes(orjson.loads(raw)[0]["Plan"]))


@pytest.fixture
async def seeded(db: asyncpg.Connection) -> tuple[asyncpg.Connection, UUID, UUID, UUID]:
    return db, *(await seed(db))


async def test_no_statement_scans_the_outbox(
    seeded: tuple[asyncpg.Connection, UUID, UUID, UUID],
) -> None:
    db, ws, contact, company = seeded
    after = EventPosition(datetime.now(UTC), uuid4())
    statements = {
        "timeline": (_TIMELINES[(RecordType.CONTACT, False)], [ws, contact, 51]),
        "timeline page 2": (
            _TIMELINES[(RecordType.CONTACT, True)],
            [ws, contact, 51, after.occurred_at, after.id],
        ),
        "audit": audit_query(ws, AuditFilter(), 51, None),
        "audit page 2": audit_query(ws, AuditFilter(topic="contact."), 51, after),
        "audit of a record": audit_query(ws, AuditFilter(record=("company", company)), 51, None),
    }
    for name, (sql, args) in statements.items():
        plan = await plan_of(db, sql, *args)
        scanned = {n.get("Relation Name") for n in plan if n["Node Type"] == "Seq Scan"}
        assert not scanned & {"outbox_event", "outbox_event_record"}, (name, plan)
        indexes = {n.get("Index Name") for n in plan}
        expected = (
            "ix_outbox_event_workspace_id_occurred_at_id"
            if name.startswith("audit") and "record" not in name
            else "pk_outbox_event_record"
        )
        assert expected in indexes, (name, indexes)
