"""One aioboto3 client of an AWS service; credentials from the standard AWS chain."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any


def open_aws_client(
    service: str,
    region: str,
    endpoint_url: str | None,
    *,
    max_connections: int,
    read_timeout: float,
) -> AbstractAsyncContextManager[Any]:
    """A client of `service` (enter it to open). aioboto3 loads only here: it costs every
    `crm` command and API process most of a second to import, and only some need it."""
    import aioboto3
    from botocore.config import Config

    session = aioboto3.Session(region_name=region)
    config = Config(
        connect_timeout=5,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=max_connections,
    )
    client: AbstractAsyncContextManager[Any] = session.client(
        service, endpoint_url=endpoint_url, config=config
    )
    return client
