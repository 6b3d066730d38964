"""The baseline: a minimal Starlette + asyncpg app serving the benchmark's four operations.

Same tables, same SQL shape and the same JSON as the service, with none of its layers (no
auth, no rate limit, no validation models, no domain objects). Run it like the service:

    RAW_WORKSPACE_ID=<uuid> uv run uvicorn raw_app:app --app-dir bench \
        --loop uvloop --http httptools --no-access-log --port 8001

RAW_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/crm_bench) and RAW_POOL_SIZE
(default 10, the service's CRM_DATABASE_POOL_SIZE default) are optional.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ.get("RAW_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/crm_bench")
WORKSPACE_ID = UUID(os.environ["RAW_WORKSPACE_ID"])
POOL_SIZE = int(os.environ.get("RAW_POOL_SIZE", "10"))
ORDER = "-created_at"  # newest first, the service's default sort
JSON = "application/json"

COLUMNS = (
    "id, display_name, first_name, last_name, emails, phones, job_title, company_name, "
    "owner_id, tags, lifecycle_stage, custom_fields, created_at, updated_at, version"
)
GET = f"SELECT {COLUMNS} FROM contact WHERE workspace_id = $1 AND id = $2"
LIST_FIRST = (
    f"SELECT {COLUMNS} FROM contact WHERE workspace_id = $1 "
    "ORDER BY created_at DESC, id DESC LIMIT $2"
)
LIST_AFTER = (
    f"SELECT {COLUMNS} FROM contact WHERE workspace_id = $1 AND (created_at, id) < ($3, $4) "
    "ORDER BY created_at DESC, id DESC LIMIT $2"
)
INSERT_CONTACT = (
    "INSERT INTO contact (id, workspace_id, first_name, last_name, display_name, emails, "
    "phones, job_title, company_name, tags, lifecycle_stage, custom_fields, created_at, "
    "updated_at, version) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'lead', '{}'::jsonb, $11, $11, 1)"
)
CLAIM_EMAILS = (
    "INSERT INTO contact_email (workspace_id, email, contact_id) "
    "SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING RETURNING email"
)
INSERT_EVENT = (
    "INSERT INTO outbox_event (id, workspace_id, topic, aggregate_type, aggregate_id, "
    "payload, occurred_at) VALUES ($1, $2, 'contact.created', 'contact', $3, $4, $5)"
)

pool: asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


def uuid7() -> UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10))
    rand_a, rand_b = rand >> 68, rand & 0x3FFF_FFFF_FFFF_FFFF
    return UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)


def contact_json(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    c = dict(row)
    c["id"] = str(c["id"])  # asyncpg's UUID type is not one orjson knows
    c["owner_id"] = None if c["owner_id"] is None else str(c["owner_id"])
    full = " ".join(p for p in (c["first_name"], c["last_name"]) if p)
    c["name"] = c["display_name"] or full or next(iter(c["emails"] + c["phones"]), "")
    return c


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = orjson.dumps(body, option=orjson.OPT_UTC_Z)
    return Response(content, status_code=status, media_type=JSON, headers=headers)


def encode_cursor(created_at: datetime, id_: str) -> str:
    raw = orjson.dumps([created_at.isoformat(), id_, ORDER])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, id_, order = orjson.loads(base64.urlsafe_b64decode(padded))
        position = datetime.fromisoformat(created_at), UUID(id_)
    except (ValueError, TypeError, binascii.Error):
        return None
    return position if order == ORDER else None


async def get_contact(request: Request) -> Response:
    row = await pool.fetchrow(GET, WORKSPACE_ID, request.path_params["contact_id"])
    if row is None:
        return json_response({"status": 404, "code": "contact_not_found"}, 404)
    return json_response(contact_json(row), headers={"ETag": f'"{row["version"]}"'})


async def list_contacts(request: Request) -> Response:
    limit = min(max(int(request.query_params.get("limit", "50")), 1), 200)
    cursor = request.query_params.get("cursor")
    if cursor is None:
        rows = await pool.fetch(LIST_FIRST, WORKSPACE_ID, limit + 1)
    elif (after := decode_cursor(cursor)) is None:
        return json_response({"status": 422, "code": "invalid_cursor"}, 422)
    else:
        rows = await pool.fetch(LIST_AFTER, WORKSPACE_ID, limit + 1, *after)
    data = [contact_json(r) for r in rows[:limit]]
    last = data[-1] if len(rows) > limit else None
    next_cursor = None if last is None else encode_cursor(last["created_at"], last["id"])
    return json_response({"data": data, "next_cursor": next_cursor})


async def create_contact(request: Request) -> Response:
    body = orjson.loads(await request.body())
    now = datetime.now(UTC)
    c: dict[str, Any] = {
        "id": uuid7(),
        "display_name": body.get("display_name"),
        "first_name": body.get("first_name"),
        "last_name": body.get("last_name"),
        "emails": [e.strip().lower() for e in body.get("emails", [])],
        "phones": list(body.get("phones", [])),
        "job_title": body.get("job_title"),
        "company_name": body.get("company_name"),
        "owner_id": None,
        "tags": list(body.get("tags", [])),
        "lifecycle_stage": "lead",
        "custom_fields": {},
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    if not await _insert(c, now):
        return json_response({"status": 409, "code": "email_already_in_use"}, 409)
    headers = {"ETag": '"1"', "Location": f"/v1/contacts/{c['id']}"}
    return json_response(contact_json(c), 201, headers)


class _Conflict(Exception):
    pass


async def _insert(c: dict[str, Any], now: datetime) -> bool:
    """Contact, its emails and the outbox event in one transaction; False if an email is taken."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                INSERT_CONTACT,
                *(c["id"], WORKSPACE_ID, c["first_name"], c["last_name"], c["display_name"]),
                *(c["emails"], c["phones"], c["job_title"], c["company_name"], c["tags"], now),
            )
            claimed = await conn.fetch(CLAIM_EMAILS, WORKSPACE_ID, c["emails"], c["id"])
            if len(claimed) != len(c["emails"]):
                raise _Conflict
            payload = orjson.loads(orjson.dumps({**c, "workspace_id": WORKSPACE_ID}))
            await conn.execute(INSERT_EVENT, uuid7(), WORKSPACE_ID, c["id"], payload, now)
    except _Conflict:
        return False
    return True


async def healthz(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=2, max_size=POOL_SIZE, init=_init_connection)
    try:
        yield
    finally:
        await pool.close()


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/v1/contacts", list_contacts),
        Route("/v1/contacts", create_contact, methods=["POST"]),
        Route("/v1/contacts/{contact_id:uuid}", get_contact),
    ],
    lifespan=lifespan,
)
