"""Where SQS is and how to talk to it: one aioboto3 client, credentials from the AWS chain."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlparse

from crm.adapters.aws.client import AwsEndpoint, open_aws_client

SqsEndpoint = AwsEndpoint


def open_client(endpoint: SqsEndpoint) -> AbstractAsyncContextManager[Any]:
    """An SQS client (enter it to open)."""
    return open_aws_client("sqs", endpoint)


def queue_name(queue: str) -> str:
    """The name in a queue name, URL (`.../account/name`) or ARN (`arn:aws:sqs:...:name`)."""
    if queue.startswith(("http://", "https://")):
        return urlparse(queue).path.rstrip("/").rsplit("/", 1)[-1]
    return queue.rsplit(":", 1)[-1]
