"""The operator's commands for events out, on moto's SQS and a real database: `crm aws
create-resources`, `crm worker dlq list|redrive`, `crm outbox purge`; and `crm dev`'s wiring,
which delivers in its own process with no queue configured."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from crm import bootstrap
from crm.adapters.dynamodb.client import DynamoDbEndpoint
from crm.adapters.dynamodb.client import open_client as open_dynamodb
from crm.adapters.sqs.client import SqsEndpoint, open_client
from crm.adapters.sqs.queue import SqsMessageQueue
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.events import ContactCreated
from crm.entrypoints.cli import app as cli_app
from crm.ports.message_queue import OutgoingMessage
from crm.settings import Settings
from tests.support import recording_handler
from tests.support.stores import postgres

Cli = Callable[..., Coroutine[Any, Any, Result]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`crm` in this process (in a thread: it runs its own event loop), in an empty directory
    with no CRM_ variable but those given."""
    for name in [n for n in os.environ if n.startswith("CRM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    async def run(*args: str, **env: str) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)

    return run


def aws_env(endpoint: SqsEndpoint, queue: str, **more: str) -> dict[str, str]:
    return {
        "CRM_AWS_ENDPOINT_URL": str(endpoint.endpoint_url),
        "CRM_AWS_REGION": endpoint.region,
        "CRM_SQS_EVENTS_QUEUE": queue,
        "CRM_DYNAMODB_CHATS_TABLE": f"{queue}-chats",
        **more,
    }


async def attributes(endpoint: SqsEndpoint, url: str) -> dict[str, str]:
    async with open_client(endpoint) as sqs:
        answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    return dict(answer["Attributes"])


async def test_create_resources_makes_every_resource_once_and_applies_changed_settings(
    cli: Cli, sqs_endpoint: SqsEndpoint
) -> None:
    name = f"crm-events-{uuid4().hex[:8]}"
    bucket = f"crm-files-{uuid4().hex[:8]}"
    first = await cli(
        "aws", "create-resources", **aws_env(sqs_endpoint, name, CRM_S3_BUCKET=bucket)
    )
    assert first.exit_code == 0, first.output
    again = await cli(
        "aws",
        "create-resources",
        **aws_env(sqs_endpoint, name, CRM_SQS_MAX_RECEIVES="7", CRM_S3_BUCKET=bucket),
    )
    assert again.exit_code == 0, again.output
    assert again.output == first.output  # the same resources
    made = dict(line.split(": ", 1) for line in first.output.splitlines())
    assert list(made) == [
        "queue",
        "queue's dead-letter queue",
        "inbound queue",
        "inbound queue's dead-letter queue",
        "chats table",
        "files bucket",
    ]
    url, dead = made["queue"], made["queue's dead-letter queue"]
    assert url.endswith(f"/{name}")
    assert dead.endswith(f"/{name}-dlq")
    assert made["inbound queue"].endswith(f"/{name}-whatsapp")
    assert made["inbound queue's dead-letter queue"].endswith(f"/{name}-whatsapp-dlq")
    assert made["chats table"].endswith(f":table/{name}-chats")
    assert made["files bucket"] == f"arn:aws:s3:::{bucket}"
    policy = json.loads((await attributes(sqs_endpoint, url))["RedrivePolicy"])
    assert policy["maxReceiveCount"] in (7, "7")
    assert policy["deadLetterTargetArn"].endswith(f":{name}-dlq")
    async with open_dynamodb(
        DynamoDbEndpoint(sqs_endpoint.region, sqs_endpoint.endpoint_url)
    ) as db:
        described = (await db.describe_table(TableName=f"{name}-chats"))["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(i["IndexName"] for i in described["GlobalSecondaryIndexes"]) == ["GSI1", "GSI2"]
    missing = await cli("aws", "create-resources")
    assert missing.exit_code == 2
    assert "CRM_SQS_EVENTS_QUEUE" in missing.output


async def test_dead_letters_are_listed_and_redriven(cli: Cli, sqs_endpoint: SqsEndpoint) -> None:
    name = f"crm-events-{uuid4().hex[:8]}"
    env = aws_env(sqs_endpoint, name, CRM_SQS_MAX_RECEIVES="1")
    assert (await cli("aws", "create-resources", **env)).exit_code == 0
    event = PublishedEvent.of(
        ContactCreated(
            id=uuid4(),
            workspace_id=uuid4(),
            aggregate_id=uuid4(),
            occurred_at=datetime.now(UTC),
            actor_id=None,
        )
    )
    queue = SqsMessageQueue(name, sqs_endpoint)
    await queue.open()
    try:
        await queue.send([OutgoingMessage("e", event.encode()), OutgoingMessage("p", "{oops")])
        for _ in range(2):  # the second receive moves both (one receive allowed)
            for m in await queue.receive(10, 1, 0):
                assert m.receive_count == 1
        listed = await cli("worker", "dlq", "list", "--json", **env)
        assert listed.exit_code == 0, listed.output
        rows = sorted((json.loads(line) for line in listed.stdout.splitlines()), key=str)
        assert {(r["event_id"], r["type"], r["body"]) for r in rows} == {
            (str(event.id), "contact.created", None),
            (None, None, "{oops"),
        }
        assert all(r["receive_count"] >= 2 for r in rows)
        moved = await cli("worker", "dlq", "redrive", **env)
        assert moved.exit_code == 0
        assert "moved 2 " in moved.output
        back = await queue.receive(10, 1, 30) + await queue.receive(10, 1, 30)
        assert sorted(m.body for m in back) == sorted([event.encode(), "{oops"])
    finally:
        await queue.close()


async def test_outbox_purge_keeps_every_event_unless_a_retention_is_set(
    cli: Cli, database_url: str, db: asyncpg.Connection
) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    async with postgres(database_url) as (uow, _pool), uow() as tx:
        kinds = [ContactCreated, ContactCreated]
        events = [
            k(
                id=uuid4(),
                workspace_id=uuid4(),
                aggregate_id=uuid4(),
                occurred_at=old,
                actor_id=None,
            )
            for k in kinds
        ]
        await tx.outbox.add(events)
        await tx.outbox_delivery.mark_published([events[0].id], datetime.now(UTC))
        await tx.commit()
    kept = await cli("outbox", "purge", CRM_DATABASE_URL=database_url)
    assert kept.exit_code == 0, kept.output
    assert "every event is kept" in kept.output
    assert await db.fetchval("SELECT count(*) FROM outbox_event") == 2
    purged = await cli(
        "outbox", "purge", CRM_DATABASE_URL=database_url, CRM_OUTBOX_RETENTION_DAYS="7"
    )
    assert "purged 1 published event(s) older than 7 days" in purged.output, purged.output
    assert await db.fetchval("SELECT id FROM outbox_event") == events[1].id  # unpublished stays


async def test_every_command_without_its_configuration_says_what_to_set(cli: Cli) -> None:
    for command, missing in (
        (["worker"], "CRM_DATABASE_URL"),
        (["outbox", "purge"], "CRM_DATABASE_URL"),
        (["worker", "dlq", "list"], "CRM_SQS_EVENTS_QUEUE"),
        (["worker", "dlq", "redrive"], "CRM_SQS_EVENTS_QUEUE"),
        (["aws", "create-resources"], "CRM_SQS_EVENTS_QUEUE"),
    ):
        result = await cli(*command)
        assert result.exit_code == 2, (command, result.output)
        assert missing in result.output, command
    worker = await cli("worker", CRM_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1/x")
    assert worker.exit_code == 2
    assert "CRM_SQS_EVENTS_QUEUE" in worker.output


@pytest.fixture
async def dev_container(tmp_path: Path) -> AsyncIterator[tuple[bootstrap.Storage, Path]]:
    """`crm dev`'s container (CRM_WORKER_IN_PROCESS, no CRM_SQS_EVENTS_QUEUE), started."""
    record = tmp_path / "handled.txt"
    os.environ["CRM_TEST_EVENTS_FILE"] = str(record)
    settings = Settings(
        _env_file=None,
        database_url=None,
        redis_url=None,
        worker_in_process=True,
        worker_handlers=["tests.support.recording_handler:register"],
    )
    storage = bootstrap.memory_storage()
    container = bootstrap.build(settings, storage=storage)
    await container.start()
    yield storage, record
    await container.stop()
    del os.environ["CRM_TEST_EVENTS_FILE"]


async def test_crm_dev_relays_and_handles_in_its_own_process(
    dev_container: tuple[bootstrap.Storage, Path],
) -> None:
    storage, record = dev_container
    events = [
        ContactCreated(
            id=uuid4(),
            workspace_id=uuid4(),
            aggregate_id=uuid4(),
            occurred_at=datetime.now(UTC),
            actor_id=None,
        )
        for _ in range(3)
    ]
    async with storage.uow() as tx:
        await tx.outbox.add(events)
        await tx.commit()
    for _ in range(100):
        if len(recording_handler.recorded(record)) == 3:
            break
        await asyncio.sleep(0.05)
    assert sorted(recording_handler.recorded(record)) == sorted(str(e.id) for e in events)
