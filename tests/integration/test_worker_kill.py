"""Two real `crm worker` processes on a test database and moto's SQS: one is killed with
SIGKILL mid-run, and still every event is handled; the processed-event guard leaves at most
the kill's in-flight messages handled twice, and records each event once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from uuid import uuid4

import asyncpg

from crm.adapters.sqs.client import SqsEndpoint
from crm.domain.model.events import ContactCreated, DomainEvent
from tests.support import recording_handler
from tests.support.live import _crm
from tests.support.moto import AWS_ENV, new_event_queues
from tests.support.servers import REPO
from tests.support.stores import postgres

EVENTS = 200
CONSUMERS = 2
IN_FLIGHT = CONSUMERS * 10
"""What one worker can hold at once: duplicates beyond twice this mean something was lost
track of, not just interrupted."""


def worker_env(
    database_url: str, queue: str, endpoint: SqsEndpoint, record: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "AWS_"))}
    env.update(AWS_ENV)
    env.update(
        PYTHONPATH=str(REPO),
        CRM_ENV="test",
        CRM_DATABASE_URL=database_url,
        CRM_SQS_EVENTS_QUEUE=queue,
        CRM_AWS_ENDPOINT_URL=str(endpoint.endpoint_url),
        CRM_AWS_REGION=endpoint.region,
        CRM_SQS_VISIBILITY_TIMEOUT_SECONDS="2",
        CRM_SQS_WAIT_SECONDS="1",
        CRM_RELAY_BATCH_SIZE="20",
        CRM_WORKER_CONSUMERS=str(CONSUMERS),
        CRM_WORKER_HANDLERS="tests.support.recording_handler:register",
        CRM_TEST_EVENTS_FILE=str(record),
        CRM_TEST_HANDLER_DELAY="0.02",
    )
    return env


@contextmanager
def worker(
    env: dict[str, str], workdir: str
) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [_crm(), "worker"], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process, log
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def output(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


async def wait_until(
    check: Callable[[], object], seconds: float, what: str, *logs: IO[bytes]
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"{what} within {seconds} s; workers said:\n" + "\n---\n".join(output(log) for log in logs)
    )


def contact_events(count: int) -> list[DomainEvent]:
    start, workspace = datetime.now(UTC), uuid4()
    return [
        ContactCreated(
            id=uuid4(),
            workspace_id=workspace,
            aggregate_id=uuid4(),
            occurred_at=start + timedelta(milliseconds=i),
            actor_id=None,
        )
        for i in range(count)
    ]


async def test_kill_9_of_one_worker_loses_no_event(
    database_url: str, sqs_endpoint: SqsEndpoint, db: asyncpg.Connection
) -> None:
    queues = await new_event_queues(sqs_endpoint, max_receives=5, visibility_timeout=2)
    events = contact_events(EVENTS)
    async with postgres(database_url) as (uow, _pool), uow() as tx:
        await tx.outbox.add(events)
        await tx.commit()
    expected = {str(e.id) for e in events}
    with tempfile.TemporaryDirectory(prefix="crm-worker-") as workdir:
        record = Path(workdir) / "handled.txt"
        env = worker_env(database_url, queues.name, sqs_endpoint, record)
        with worker(env, workdir) as (doomed, doomed_log), worker(env, workdir) as (kept, log):
            await wait_until(
                lambda: len(recording_handler.recorded(record)) >= 40,
                30,
                "the workers handled 40 events",
                doomed_log,
                log,
            )
            doomed.send_signal(signal.SIGKILL)
            assert doomed.wait(5) == -signal.SIGKILL
            assert len(set(recording_handler.recorded(record))) < EVENTS  # killed mid-run
            await wait_until(
                lambda: set(recording_handler.recorded(record)) >= expected,
                40,
                "every event was handled",
                log,
            )
            kept.send_signal(signal.SIGTERM)
            assert kept.wait(20) == 0, output(log)
        handled = Counter(recording_handler.recorded(record))
    assert set(handled) == expected
    twice = sum(n - 1 for n in handled.values())
    assert twice <= 2 * IN_FLIGHT, f"{twice} repeats"
    rows = await db.fetch(
        "SELECT event_id, count(*) AS n FROM processed_event WHERE handler = $1 GROUP BY 1",
        recording_handler.NAME,
    )
    assert {str(r["event_id"]) for r in rows} == expected
    assert all(r["n"] == 1 for r in rows)
    assert await db.fetchval("SELECT count(*) FROM outbox_event WHERE published_at IS NULL") == 0
