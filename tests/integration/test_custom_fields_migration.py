"""Migration 0004 turns the free-form contact custom fields and tags in use into definitions
and catalogue entries, so existing values stay readable and writable."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from crm.adapters.postgres import migrations
from crm.adapters.postgres.engine import asyncpg_dsn


async def test_keys_and_tags_in_use_are_defined(empty_database_url: str) -> None:
    url = empty_database_url
    await asyncio.to_thread(migrations.upgrade, url, "0003")
    ws, other = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for w in (ws, other):
            await conn.execute(
                "INSERT INTO workspace (id, name, created_at) VALUES ($1, 'Old', now())", w
            )
        rows = [
            (ws, '{"seats": 3, "vip_since": "2020", "active": true, "mixed": 1}', ["vip"]),
            (ws, '{"seats": 4.5, "active": false, "mixed": "one"}', ["vip", "emea"]),
            (other, '{"seats": "many"}', []),
        ]
        for w, custom_fields, tags in rows:
            await conn.execute(
                "INSERT INTO contact (id, workspace_id, first_name, tags, lifecycle_stage,"
                " custom_fields, created_at, updated_at, version)"
                " VALUES ($1, $2, 'A', $3, 'lead', $4::jsonb, now(), now(), 1)",
                uuid.uuid4(),
                w,
                tags,
                custom_fields,
            )
        await asyncio.to_thread(migrations.upgrade, url)
        defined = await conn.fetch(
            "SELECT workspace_id, object_type, key, label, field_type, archived_at"
            " FROM custom_field ORDER BY workspace_id = $1 DESC, key",
            ws,
        )
        assert [
            (r["workspace_id"], r["object_type"], r["key"], r["label"], r["field_type"])
            for r in defined
        ] == [
            (ws, "contact", "active", "Active", "boolean"),
            (ws, "contact", "mixed", "Mixed", "text"),
            (ws, "contact", "seats", "Seats", "number"),
            (ws, "contact", "vip_since", "Vip Since", "text"),
            (other, "contact", "seats", "Seats", "text"),
        ]
        assert {r["archived_at"] for r in defined} == {None}
        catalogue = await conn.fetch("SELECT workspace_id, name, version FROM tag ORDER BY name")
        assert [(r["workspace_id"], r["name"], r["version"]) for r in catalogue] == [
            (ws, "emea", 1),
            (ws, "vip", 1),
        ]
    finally:
        await conn.close()
