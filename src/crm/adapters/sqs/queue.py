"""The MessageQueue port on Amazon SQS (aioboto3): one client per process, opened at start."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm.adapters.aws.client import HeldClient
from crm.adapters.sqs.client import SqsEndpoint, queue_name
from crm.adapters.sqs.errors import sqs_errors
from crm.domain.errors import PortError
from crm.ports.message_queue import MAX_BATCH, OutgoingMessage, QueueMissing, ReceivedMessage

_ATTRIBUTES = ["ApproximateReceiveCount", "SentTimestamp"]
_LIST_HIDE_SECONDS = 30
"""How long listing (or moving) keeps dead letters hidden, so a round sees each once."""


class SqsMessageQueue:
    """`queue` is a queue name or URL; its dead-letter queue is the one its redrive policy
    names. The client opens in `open` and closes in `close`, never per call."""

    def __init__(self, queue: str, endpoint: SqsEndpoint) -> None:
        self._queue = queue
        self._client = HeldClient(
            "sqs", endpoint, "The SQS queue is not open (the container was not started)."
        )
        self._url: str | None = None
        self._dlq_url: str | None = None

    async def open(self) -> None:
        await self._client.open()

    async def close(self) -> None:
        await self._client.close()

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        _check_batch(len(messages))
        if len({m.id for m in messages}) != len(messages):
            raise ValueError("the messages of a batch need distinct ids")
        url = await self._queue_url()
        fifo = url.endswith(".fifo")
        entries = [_entry(m, fifo) for m in messages]
        with sqs_errors("send"):
            answer = await self._sqs().send_message_batch(QueueUrl=url, Entries=entries)
        _refuse_failures("send", answer)

    async def receive(
        self, max_messages: int, wait_seconds: float, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        _check_batch(max_messages)
        return await self._receive(
            await self._queue_url(), max_messages, wait_seconds, visibility_timeout
        )

    async def delete(self, receipts: Sequence[str]) -> None:
        await self._delete(await self._queue_url(), receipts)

    async def change_visibility(self, receipt: str, seconds: int) -> None:
        url = await self._queue_url()
        with sqs_errors("change visibility"):
            await self._sqs().change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )

    async def dead_letters(self, limit: int) -> list[ReceivedMessage]:
        url = await self._dead_letter_url()
        seen: dict[str, ReceivedMessage] = {}
        while len(seen) < limit:
            batch = await self._receive(
                url, min(MAX_BATCH, limit - len(seen)), 1, _LIST_HIDE_SECONDS
            )
            fresh = [m for m in batch if m.message_id not in seen]
            if not fresh:
                break
            seen.update((m.message_id, m) for m in fresh)
        for m in seen.values():  # listed, not taken: visible again at once
            with sqs_errors("release a dead letter"):
                await self._sqs().change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m.receipt, VisibilityTimeout=0
                )
        return list(seen.values())

    async def redrive(self, limit: int | None = None) -> int:
        source, target = await self._dead_letter_url(), await self._queue_url()
        moved = 0
        while limit is None or moved < limit:
            want = MAX_BATCH if limit is None else min(MAX_BATCH, limit - moved)
            batch = await self._receive(source, want, 1, _LIST_HIDE_SECONDS)
            if not batch:
                break
            fifo = target.endswith(".fifo")
            entries = [_entry(OutgoingMessage(m.message_id, m.body), fifo) for m in batch]
            with sqs_errors("redrive"):
                answer = await self._sqs().send_message_batch(QueueUrl=target, Entries=entries)
            _refuse_failures("redrive", answer)
            await self._delete(source, [m.receipt for m in batch])
            moved += len(batch)
        return moved

    async def _receive(
        self, url: str, max_messages: int, wait_seconds: float, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        with sqs_errors("receive"):
            answer = await self._sqs().receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=min(20, math.ceil(wait_seconds)),
                VisibilityTimeout=visibility_timeout,
                MessageSystemAttributeNames=_ATTRIBUTES,
            )
        return [_received(m) for m in answer.get("Messages", [])]

    async def _delete(self, url: str, receipts: Sequence[str]) -> None:
        _check_batch(len(receipts))
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        with sqs_errors("delete"):
            answer = await self._sqs().delete_message_batch(QueueUrl=url, Entries=entries)
        _refuse_failures("delete", answer)

    def _sqs(self) -> Any:
        return self._client.get()

    async def _queue_url(self) -> str:
        if self._url is None:
            self._url = await self._url_of(self._queue)
        return self._url

    async def _dead_letter_url(self) -> str:
        if self._dlq_url is None:
            with sqs_errors("read the redrive policy"):
                answer = await self._sqs().get_queue_attributes(
                    QueueUrl=await self._queue_url(), AttributeNames=["RedrivePolicy"]
                )
            policy = answer.get("Attributes", {}).get("RedrivePolicy")
            if policy is None:
                raise QueueMissing(
                    f"The queue {self._queue} has no dead-letter queue (redrive policy); "
                    "run `crm aws create-resources`."
                )
            self._dlq_url = await self._url_of(json.loads(policy)["deadLetterTargetArn"])
        return self._dlq_url

    async def _url_of(self, queue: str) -> str:
        """A URL as it is; a name or an ARN (`arn:aws:sqs:region:account:name`) looked up."""
        if queue.startswith(("http://", "https://")):
            return queue
        with sqs_errors(f"find the queue {queue_name(queue)}"):
            answer = await self._sqs().get_queue_url(QueueName=queue_name(queue))
        return str(answer["QueueUrl"])


def _entry(message: OutgoingMessage, fifo: bool) -> dict[str, str]:
    entry = {"Id": message.id, "MessageBody": message.body}
    if fifo:
        entry["MessageGroupId"] = message.group or "default"
        entry["MessageDeduplicationId"] = message.id
    return entry


def _received(m: dict[str, Any]) -> ReceivedMessage:
    attributes = m.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return ReceivedMessage(
        message_id=m["MessageId"],
        body=m["Body"],
        receipt=m["ReceiptHandle"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        sent_at=None if sent is None else datetime.fromtimestamp(int(sent) / 1000, UTC),
    )


def _refuse_failures(what: str, answer: dict[str, Any]) -> None:
    failed = answer.get("Failed") or []
    if failed:
        first = failed[0]
        raise PortError(
            f"SQS {what}: {len(failed)} of the batch failed "
            f"({first.get('Code')}: {first.get('Message', '')})"
        )


def _check_batch(size: int) -> None:
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} messages, not {size}")
