"""The database side of bench/events_bench.py: a fresh migrated database, a workspace, a
webhook subscription made by the service's own use case, N contacts with one `contact.updated`
outbox event each (set-based), and what the drain left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import seed
from events_support import AWS_ENV, REGION, Receiver, cpu_seconds

QUEUE = "crm-bench-events"

INSERT_EVENTS = """
WITH c AS (
    INSERT INTO contact (id, workspace_id, first_name, last_name, emails, job_title,
                         company_name, tags, lifecycle_stage, created_at, updated_at, version)
    SELECT gen_random_uuid(), $1, 'Ada', 'Lovelace ' || i,
           ARRAY['ada.' || i || '@example.com'], 'Engineer', 'Acme Corp', ARRAY['vip'],
           'lead', $3::timestamptz, $3::timestamptz + i * interval '1 microsecond', 2
    FROM generate_series(1, $2) AS i
    RETURNING id, emails[1] AS email, updated_at
), emails AS (
    INSERT INTO contact_email (workspace_id, email, contact_id) SELECT $1, email, id FROM c
), ev AS (
    INSERT INTO outbox_event (id, workspace_id, topic, aggregate_type, aggregate_id, actor_id,
                              payload, occurred_at)
    SELECT gen_random_uuid(), $1, 'contact.updated', 'contact', c.id, $4,
           '{"changes": {"job_title": {"old": "Analyst", "new": "Engineer"}}}'::jsonb,
           c.updated_at
    FROM c
    RETURNING id, aggregate_id, occurred_at
)
INSERT INTO outbox_event_record (workspace_id, record_type, record_id, occurred_at, event_id)
SELECT $1, 'contact', aggregate_id, occurred_at, id FROM ev
"""


def database_env(database: str) -> dict[str, str]:
    env = {k: v for k, v in seed.service_env(database).items() if not k.startswith("AWS_")}
    env.update(AWS_ENV, CRM_WEBHOOK_ALLOW_PRIVATE="true")
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    return env


def sqs_env(database: str, endpoint: str) -> dict[str, str]:
    return {
        **database_env(database),
        "CRM_SQS_EVENTS_QUEUE": QUEUE,
        "CRM_AWS_ENDPOINT_URL": endpoint,
        "CRM_AWS_REGION": REGION,
    }


def crm(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "crm"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"crm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


async def fresh_database(database: str) -> tuple[str, str]:
    """Drop and create the database, migrate, make a workspace: (workspace id, API key)."""
    conn = await asyncpg.connect(seed.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    seed.migrate(database)
    return seed.create_workspace(database)


async def drop_database(database: str) -> None:
    conn = await asyncpg.connect(seed.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def subscribe(database: str, api_key: str, url: str) -> str:
    """A `*` subscription made by the service's use case, as `POST /v1/webhook-subscriptions`
    would; returns the key's actor id (the events' actor)."""
    os.environ.update(database_env(database))
    from crm import bootstrap
    from crm.settings import Settings

    container = bootstrap.build(Settings())
    await container.start()
    try:
        principal = (await container.authenticate.execute(api_key)).principal
        assert principal is not None
        raw = {"url": url, "event_types": ["*"], "description": "events bench"}
        await container.webhooks.create.execute(principal, raw)
        return str(principal.actor_id)
    finally:
        await container.stop()


async def insert_events(database: str, workspace_id: str, actor_id: str, count: int) -> None:
    conn = await asyncpg.connect(seed.dsn(database))
    try:
        now = datetime.now(UTC)
        await conn.execute(INSERT_EVENTS, workspace_id, count, now, actor_id)
        await conn.execute("VACUUM (ANALYZE) contact, outbox_event, outbox_event_record")
    finally:
        await conn.close()


async def backend_cpu(database: str) -> float:
    """CPU of the PostgreSQL backends serving `database` now (the workers' pools)."""
    conn = await asyncpg.connect(seed.dsn(database))
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return sum(cpu_seconds(r["pid"]) for r in pids)


async def checks(database: str) -> dict[str, Any]:
    conn = await asyncpg.connect(seed.dsn(database))
    try:
        row = await conn.fetchrow(
            """SELECT
                 (SELECT count(*) FROM outbox_event WHERE published_at IS NULL) AS unpublished,
                 (SELECT count(*) FROM processed_event WHERE handler = 'webhooks') AS fanned_out,
                 (SELECT count(*) FROM webhook_delivery WHERE status = 'succeeded') AS succeeded,
                 (SELECT count(*) FROM webhook_delivery WHERE status <> 'succeeded') AS other"""
        )
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


def check_sample(receiver: Receiver) -> str:
    """One delivery as the receiver got it: signed, and carrying the contact as stored."""
    assert receiver.sample is not None, "nothing was delivered"
    headers, body = receiver.sample
    event = json.loads(body)
    assert headers.get("crm-signature", "").startswith("t="), headers
    assert event["type"] == "contact.updated", event
    assert event["record"] is not None, "the fan-out found no stored contact"
    assert event["changes"]["job_title"]["new"] == "Engineer", event
    return f"{len(body)} bytes, signed, record v{event['record']['version']} + changes"
