"""Where SQS is and how to talk to it: one aioboto3 client, credentials from the AWS chain."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from crm.adapters.aws.client import open_aws_client


@dataclass(frozen=True, slots=True)
class SqsEndpoint:
    """`endpoint_url` None is AWS itself; credentials come from the standard AWS environment
    variables, config files or instance role, never from our settings."""

    region: str
    endpoint_url: str | None = None
    max_connections: int = 50
    read_timeout: float = 30.0
    """Longer than a 20-second long poll."""


def open_client(endpoint: SqsEndpoint) -> AbstractAsyncContextManager[Any]:
    """An SQS client (enter it to open)."""
    return open_aws_client(
        "sqs",
        endpoint.region,
        endpoint.endpoint_url,
        max_connections=endpoint.max_connections,
        read_timeout=endpoint.read_timeout,
    )


def queue_name(queue: str) -> str:
    """The name in a queue name, URL (`.../account/name`) or ARN (`arn:aws:sqs:...:name`)."""
    if queue.startswith(("http://", "https://")):
        return urlparse(queue).path.rstrip("/").rsplit("/", 1)[-1]
    return queue.rsplit(":", 1)[-1]
