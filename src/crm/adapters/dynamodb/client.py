"""Where DynamoDB is, how to talk to it, and how its failures map to port errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from crm.adapters.aws.client import open_aws_client
from crm.adapters.aws.errors import aws_errors
from crm.domain.errors import PortError

MISSING_TABLE = frozenset({"ResourceNotFoundException"})


class TableMissing(PortError):
    """The table does not exist: `crm aws create-resources` makes it; the service never
    creates it while it runs."""


@dataclass(frozen=True, slots=True)
class DynamoDbEndpoint:
    """`endpoint_url` None is AWS itself; credentials come from the standard AWS chain."""

    region: str
    endpoint_url: str | None = None
    max_connections: int = 50
    read_timeout: float = 10.0


def open_client(endpoint: DynamoDbEndpoint) -> AbstractAsyncContextManager[Any]:
    """A DynamoDB client (enter it to open)."""
    return open_aws_client(
        "dynamodb",
        endpoint.region,
        endpoint.endpoint_url,
        max_connections=endpoint.max_connections,
        read_timeout=endpoint.read_timeout,
    )


@contextmanager
def dynamodb_errors(what: str) -> Iterator[None]:
    """Translate what botocore raises while doing `what` (a few words for the message)."""

    def missing(_: str) -> TableMissing:
        return TableMissing(
            f"DynamoDB {what}: the table does not exist; run `crm aws create-resources`."
        )

    with aws_errors("DynamoDB", what, MISSING_TABLE, missing):
        yield
