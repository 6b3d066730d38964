"""Migration 0008 files the events recorded before it under the records they concern, by the
same rules as the domain's table (task.completed/reopened named no record then)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import orjson

from crm.adapters.postgres import migrations
from crm.adapters.postgres.engine import asyncpg_dsn
from crm.domain.model.timeline import concerns


async def test_old_events_are_filed_under_every_record_they_concern(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    await asyncio.to_thread(migrations.upgrade, url, "0007")
    ws, contact, company, deal, note, task = (uuid.uuid4() for _ in range(6))
    old: list[tuple[str, str, uuid.UUID, dict[str, Any]]] = [
        ("contact.created", "contact", contact, {}),
        ("contact.company_linked", "contact", contact, {"company_id": str(company)}),
        (
            "contact.primary_company_changed",
            "contact",
            contact,
            {"old_company_id": None, "new_company_id": str(company)},
        ),
        ("note.added", "note", note, {"record_type": "deal", "record_id": str(deal)}),
        ("task.created", "task", task, {"record_type": None, "record_id": None}),
        ("deal.linked", "deal", deal, {"object_type": "contact", "object_id": str(contact)}),
    ]
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        ids = [uuid.uuid4() for _ in old]
        for n, (event_id, (topic, kind, aggregate, payload)) in enumerate(
            zip(ids, old, strict=True)
        ):
            await conn.execute(
                "INSERT INTO outbox_event (id, workspace_id, topic, aggregate_type, aggregate_id,"
                " payload, occurred_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb,"
                " now() + $7 * interval '1 second')",
                event_id, ws, topic, kind, aggregate, orjson.dumps(payload).decode(), n,
            )  # fmt: skip
        await asyncio.to_thread(migrations.upgrade, url)
        for event_id, (topic, kind, aggregate, payload) in zip(ids, old, strict=True):
            rows = await conn.fetch(
                "SELECT workspace_id, record_type, record_id FROM outbox_event_record"
                " WHERE event_id = $1",
                event_id,
            )
            assert {r["workspace_id"] for r in rows} == {ws}
            filed = {(r["record_type"], r["record_id"]) for r in rows}
            assert filed == set(concerns(topic, kind, aggregate, payload)), topic
    finally:
        await conn.close()
