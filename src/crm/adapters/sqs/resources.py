"""Creating the events queue and its dead-letter queue: idempotent, run by an operator
(`crm aws create-resources`), never by the service while it runs."""

from __future__ import annotations

import json
from typing import Any

from crm.adapters.sqs.client import SqsEndpoint, open_client, queue_name
from crm.adapters.sqs.errors import sqs_errors
from crm.ports.message_queue import QueueMissing

RETENTION_SECONDS = 14 * 24 * 3600
"""SQS's longest message retention, on both queues (dead letters wait for an operator)."""


def dead_letter_name(name: str) -> str:
    if name.endswith(".fifo"):
        return name.removesuffix(".fifo") + "-dlq.fifo"
    return name + "-dlq"


async def create_event_queues(
    queue: str, endpoint: SqsEndpoint, *, max_receives: int, visibility_timeout: int
) -> tuple[str, str]:
    """The queue named by `queue` (name or URL) and `<name>-dlq`, created when missing and
    given their attributes either way (a changed setting is applied on the next run). Their
    URLs."""
    name = queue_name(queue)
    async with open_client(endpoint) as sqs:
        dlq_url = await _ensure(sqs, dead_letter_name(name), {})
        with sqs_errors("read the dead-letter queue's ARN"):
            answer = await sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": answer["Attributes"]["QueueArn"],
            "maxReceiveCount": str(max_receives),
        }
        attributes = {
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(redrive),
        }
        url = await _ensure(sqs, name, attributes)
    return url, dlq_url


async def _ensure(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    settable = {"MessageRetentionPeriod": str(RETENTION_SECONDS), **attributes}
    try:
        with sqs_errors(f"find the queue {name}"):
            url = str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])
    except QueueMissing:
        fifo = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
        with sqs_errors(f"create the queue {name}"):
            url = str((await sqs.create_queue(QueueName=name, Attributes=fifo))["QueueUrl"])
    with sqs_errors(f"set the attributes of {name}"):
        await sqs.set_queue_attributes(QueueUrl=url, Attributes=settable)
    return url
