"""Where SQS is and how to talk to it: one aioboto3 client, credentials from the AWS chain."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


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
    """An SQS client (enter it to open). aioboto3 loads only here: it costs every `crm`
    command and API process most of a second to import, and only delivery needs it."""
    import aioboto3
    from botocore.config import Config

    session = aioboto3.Session(region_name=endpoint.region)
    config = Config(
        connect_timeout=5,
        read_timeout=endpoint.read_timeout,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=endpoint.max_connections,
    )
    client: AbstractAsyncContextManager[Any] = session.client(
        "sqs", endpoint_url=endpoint.endpoint_url, config=config
    )
    return client


def queue_name(queue: str) -> str:
    """The name in a queue name, URL (`.../account/name`) or ARN (`arn:aws:sqs:...:name`)."""
    if queue.startswith(("http://", "https://")):
        return urlparse(queue).path.rstrip("/").rsplit("/", 1)[-1]
    return queue.rsplit(":", 1)[-1]
