"""botocore's failures become port errors: nothing vendor-specific crosses the port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crm.adapters.aws.errors import aws_errors
from crm.ports.message_queue import QueueMissing

MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


@contextmanager
def sqs_errors(what: str) -> Iterator[None]:
    """Translate what botocore raises while doing `what` (a few words for the message)."""

    def missing(_: str) -> QueueMissing:
        return QueueMissing(
            f"SQS {what}: the queue does not exist; run `crm aws create-resources`."
        )

    with aws_errors("SQS", what, MISSING_QUEUE, missing):
        yield
