"""Where DynamoDB is, how to talk to it, and how its failures map to port errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any

from crm.adapters.aws.client import AwsEndpoint, open_aws_client
from crm.adapters.aws.errors import aws_errors
from crm.domain.errors import PortError

MISSING_TABLE = frozenset({"ResourceNotFoundException"})


class TableMissing(PortError):
    """The table does not exist: `crm aws create-resources` makes it; the service never
    creates it while it runs."""


DynamoDbEndpoint = AwsEndpoint


def open_client(endpoint: DynamoDbEndpoint) -> AbstractAsyncContextManager[Any]:
    """A DynamoDB client (enter it to open)."""
    return open_aws_client("dynamodb", endpoint)


@contextmanager
def dynamodb_errors(what: str) -> Iterator[None]:
    """Translate what botocore raises while doing `what` (a few words for the message)."""

    def missing(_: str) -> TableMissing:
        return TableMissing(
            f"DynamoDB {what}: the table does not exist; run `crm aws create-resources`."
        )

    with aws_errors("DynamoDB", what, MISSING_TABLE, missing):
        yield
