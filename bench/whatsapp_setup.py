"""The data side of bench/whatsapp_bench.py: settings, contacts whose phones are the
customers' numbers, the channel, the signed notifications, and what the worker stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import events_setup
import seed
import servers
from events_support import HOST, REGION, free_port

QUEUE = "crm-bench-whatsapp"
TABLE = "crm-bench-chats"
# Only ever used against the local benchmark server.
APP_SECRET = "bench-whatsapp-app-secret"  # noqa: S105
PHONE_NUMBER_ID = "106540352242922"
DISPLAY = "15550783881"
HOT = 0
"""The customer who writes `hot_every`-th message: the chat whose list is measured."""

INSERT_CONTACTS = """
INSERT INTO contact (id, workspace_id, first_name, last_name, phones, lifecycle_stage,
                     created_at, updated_at, version)
SELECT gen_random_uuid(), $1, 'Customer', 'No. ' || i, ARRAY[$3 || lpad(i::text, 4, '0')],
       'lead', now(), now(), 1
FROM generate_series(0, $2 - 1) AS i
"""


def env(database: str, endpoint: str) -> dict[str, str]:
    """The service's settings: SQS and DynamoDB on moto, the app secret."""
    return {
        **events_setup.sqs_env(database, endpoint),
        "CRM_SQS_EVENTS_QUEUE": QUEUE,
        "CRM_DYNAMODB_CHATS_TABLE": TABLE,
        "CRM_WHATSAPP_APP_SECRET": APP_SECRET,
    }


def wa_id(customer: int) -> str:
    """The customer's WhatsApp id (their number without '+'): +1 650 555 0000 and up."""
    return f"1650555{customer:04d}"


async def insert_contacts(database: str, workspace_id: str, customers: int) -> None:
    conn = await asyncpg.connect(seed.dsn(database))
    try:
        await conn.execute(INSERT_CONTACTS, workspace_id, customers, "+1650555")
        await conn.execute("VACUUM (ANALYZE) contact")
    finally:
        await conn.close()


def connect_channel(server: servers.Server) -> None:
    body = {
        "phone_number_id": PHONE_NUMBER_ID,
        "display_phone_number": DISPLAY,
        "name": "Bench line",
        "access_token": "EAAGm0PX4ZCpsBAKZC2E0bench0token0ZDZD",
        "create_contacts": False,  # every customer has a contact: an unlinked chat is a bug
    }
    status, answer = servers.request(
        server, "POST", "/v1/channels/whatsapp", json.dumps(body).encode()
    )
    if status != 201:
        raise RuntimeError(f"connecting the channel: HTTP {status} {answer[:300]!r}")


def customer_of(i: int, customers: int, hot_every: int) -> int:
    """Every `hot_every`-th message is the hot customer's; the others go round the rest."""
    return HOT if i % hot_every == 0 else 1 + i % (customers - 1)


def notification(i: int, customer: int, sent_at: int) -> bytes:
    """One text message in the envelope Meta posts (the `messages` webhook reference)."""
    doc: dict[str, Any] = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY,
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [
                                {"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id(customer)}
                            ],
                            "messages": [
                                {
                                    "from": wa_id(customer),
                                    "id": f"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRC{i:010d}",
                                    "timestamp": str(sent_at),
                                    "type": "text",
                                    "text": {"body": f"Does it come in another color? ({i})"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def write_requests(path: Path, count: int, customers: int, hot_every: int) -> dict[int, int]:
    """`count` signed notifications, `<signature>\\t<body>` a line, one message each with a
    distinct wamid; a second apart in WhatsApp time (ending now), so each chat's messages
    have distinct times. How many messages each customer got."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first = int(time.time()) - count
    per_customer: dict[int, int] = {}
    with path.open("w") as out:
        for i in range(count):
            customer = customer_of(i, customers, hot_every)
            per_customer[customer] = per_customer.get(customer, 0) + 1
            body = notification(i, customer, first + i)
            out.write(f"{signature(body)}\t{body.decode()}\n")
    return per_customer


def hot_chat_id(workspace_id: str) -> UUID:
    from crm.domain.model.chats import ChatRef

    return ChatRef(PHONE_NUMBER_ID, "+" + wa_id(HOT)).chat_id(UUID(workspace_id))


PROCESSED = "SELECT count(*) FROM processed_event WHERE handler = 'whatsapp.inbound'"
"""Messages the worker has recorded (before their chat writes: a lower bound of done)."""


async def stored(dynamodb: Any, workspace_id: str) -> tuple[int, int, int]:
    """(chats, messages counted on them, chats linked to a contact), read from the chats
    table's GSI1 (a workspace's chats) in pages."""
    chats = messages = linked = 0
    query: dict[str, Any] = {
        "TableName": TABLE,
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"WS#{workspace_id}"}},
        "ProjectionExpression": "messages, contact_id",
    }
    while True:
        page = await dynamodb.query(**query)
        for item in page["Items"]:
            chats += 1
            messages += int(item["messages"]["N"])
            linked += "contact_id" in item
        if "LastEvaluatedKey" not in page:
            return chats, messages, linked
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def message_items(dynamodb: Any) -> int:
    """Message items in the table (a scan: once, after the drain)."""
    count, scan = (
        0,
        {
            "TableName": TABLE,
            "Select": "COUNT",
            "FilterExpression": "begins_with(SK, :msg)",
            "ExpressionAttributeValues": {":msg": {"S": "MSG#"}},
        },
    )
    while True:
        page = await dynamodb.scan(**scan)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def dynamodb_client(endpoint: str) -> Any:
    from crm.adapters.dynamodb.client import DynamoDbEndpoint, open_client

    return open_client(DynamoDbEndpoint(REGION, endpoint))


def start_moto(log: Path, indexed: bool) -> tuple[subprocess.Popen[bytes], str]:
    """moto's server (bench/whatsapp_moto_server.py) in a process of its own, on a free port."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).with_name("whatsapp_moto_server.py")), str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd + (["--indexed"] if indexed else []), stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto's server exited ({proc.returncode}); see {log}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return proc, f"http://{HOST}:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"moto's server did not answer on port {port} within 20 s")
