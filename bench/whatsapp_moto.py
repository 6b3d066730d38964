"""moto alone for bench/whatsapp_bench.py: the queue and chat-table traffic of the webhook
route and the worker, through the service's own adapters, with no API, worker or database.

    python bench/whatsapp_moto.py send --endpoint URL --requests FILE --rate 1000 --duration 10
    python bench/whatsapp_moto.py consume --endpoint URL --workspace ID

`send` is the route's share: each notification of FILE (`<signature>\\t<body>` lines) sent as
one message by `SqsMessageQueue.send`, open loop at `--rate` (as bench/openloop.py drives the
route) with at most `--in-flight` at once, latency from the time it was due; one JSON line.
`consume` is a worker's share: one loop receiving up to 10 (`SqsMessageQueue.receive`, the
worker's wait and visibility), each message handled concurrently as the worker's
ApplyWhatsApp does against the chat store
(`DynamoDbChatStore.get`, `.append` — one TransactWriteItems — and `.set_contact` while the
chat has none), then one `delete`; it prints how many it handled after every batch. `list`
reads a chat's newest 50 (`DynamoDbChatStore.list_messages`) one call after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openloop import percentiles

if TYPE_CHECKING:
    from crm.adapters.dynamodb.chats import DynamoDbChatStore

REGION = "us-east-1"
QUEUE = "crm-bench-whatsapp-whatsapp"
TABLE = "crm-bench-chats"
_CONTACTS = uuid.UUID("7f1d2c8e-4a1b-4f5e-9d3c-2b6a8e0f1c55")


async def send(args: argparse.Namespace) -> dict[str, Any]:
    from crm.adapters.sqs.client import SqsEndpoint
    from crm.adapters.sqs.queue import SqsMessageQueue
    from crm.ports.message_queue import OutgoingMessage

    bodies = [line.split("\t", 1)[1] for line in args.requests.read_text().splitlines()]
    queue = SqsMessageQueue(QUEUE, SqsEndpoint(REGION, args.endpoint))
    await queue.open()
    due_ms: list[float] = []
    sent_ms: list[float] = []
    errors: list[str] = []

    in_flight = asyncio.Semaphore(args.in_flight)

    async def one(body: str, due: float) -> None:
        async with in_flight:
            await sent_once(body, due)

    async def sent_once(body: str, due: float) -> None:
        sent = time.monotonic()
        try:
            await queue.send([OutgoingMessage(str(uuid.uuid4()), body)])
        except Exception as e:  # counted and reported
            errors.append(type(e).__name__)
            return
        done = time.monotonic()
        due_ms.append((done - due) * 1000)
        sent_ms.append((done - sent) * 1000)

    await queue.send([OutgoingMessage(str(uuid.uuid4()), bodies[0])])  # the URL, a connection
    total = int(args.rate * args.duration)
    start, tasks = time.monotonic() + 0.05, []
    i = 0
    while i < total:
        now = time.monotonic()
        while i < total and start + i / args.rate <= now:
            body = bodies[(args.offset + i) % len(bodies)]
            tasks.append(asyncio.ensure_future(one(body, start + i / args.rate)))
            i += 1
        await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
    await asyncio.gather(*tasks)
    last = time.monotonic()
    await queue.close()
    return {
        "requests": total + 1,
        "ok": len(due_ms) + 1,
        "errors": len(errors),
        "achieved_per_s": len(due_ms) / (last - start),
        "start": start,
        "last_ok": last,
        "from_due_ms": percentiles(due_ms),
        "from_sent_ms": percentiles(sent_ms),
    }


async def handle(chats: DynamoDbChatStore, workspace_id: uuid.UUID, body: str) -> None:
    from crm.domain.model import chats as c
    from crm.domain.model import whatsapp as wa
    from crm.domain.use_cases.whatsapp_inbound import chat_message

    for change in wa.read_notification(body.encode()).changes:
        for message in change.messages:
            ref = c.ChatRef(change.phone_number_id, "+" + message.sender)
            chat_id = ref.chat_id(workspace_id)
            chat = await chats.get(workspace_id, chat_id)
            await chats.append(workspace_id, ref, chat_message(message, None))
            if chat is None or chat.contact_id is None:
                contact_id = uuid.uuid5(_CONTACTS, ref.customer_phone)
                await chats.set_contact(workspace_id, chat_id, contact_id, automatic=True)


async def consume(args: argparse.Namespace) -> None:
    from crm.adapters.dynamodb.chats import DynamoDbChatStore
    from crm.adapters.dynamodb.client import DynamoDbEndpoint
    from crm.adapters.sqs.client import SqsEndpoint
    from crm.adapters.sqs.queue import SqsMessageQueue

    queue = SqsMessageQueue(QUEUE, SqsEndpoint(REGION, args.endpoint))
    chats = DynamoDbChatStore(TABLE, DynamoDbEndpoint(REGION, args.endpoint))
    workspace_id = uuid.UUID(args.workspace)
    await queue.open()
    await chats.open()
    try:
        while True:
            received = await queue.receive(10, 20, 30)
            await asyncio.gather(*(handle(chats, workspace_id, m.body) for m in received))
            if received:
                await queue.delete([m.receipt for m in received])
                sys.stdout.write(f"{len(received)}\n")
                sys.stdout.flush()
    finally:
        await chats.close()
        await queue.close()


async def list_newest(args: argparse.Namespace) -> dict[str, Any]:
    """The newest 50 of the chat, one call after the other for `--duration` seconds."""
    from crm.adapters.dynamodb.chats import DynamoDbChatStore
    from crm.adapters.dynamodb.client import DynamoDbEndpoint

    chats = DynamoDbChatStore(TABLE, DynamoDbEndpoint(REGION, args.endpoint))
    await chats.open()
    workspace_id, chat_id = uuid.UUID(args.workspace), uuid.UUID(args.chat)
    took: list[float] = []
    try:
        assert len((await chats.list_messages(workspace_id, chat_id, 50, None)).items) == 50
        until = time.monotonic() + args.duration
        while time.monotonic() < until:
            started = time.monotonic()
            await chats.list_messages(workspace_id, chat_id, 50, None)
            took.append((time.monotonic() - started) * 1000)
    finally:
        await chats.close()
    return {"requests": len(took), "per_s": len(took) / args.duration, "ms": percentiles(took)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["send", "consume", "list"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--requests", type=Path)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument(
        "--in-flight", type=int, default=50, help="sends at once (send; the client's pool)"
    )
    parser.add_argument("--workspace", default=str(uuid.uuid4()))
    parser.add_argument("--chat", help="the chat to list (list)")
    args = parser.parse_args()
    if args.mode == "send":
        import uvloop

        uvloop.install()  # as `crm serve` runs
        print(json.dumps(asyncio.run(send(args))))
    elif args.mode == "list":
        print(json.dumps(asyncio.run(list_newest(args))))
    else:
        asyncio.run(consume(args))


if __name__ == "__main__":
    main()
