"""Where an AWS service is and one aioboto3 client of it; credentials from the AWS chain."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any

from crm.domain.errors import PortError


@dataclass(frozen=True, slots=True)
class AwsEndpoint:
    """`endpoint_url` None is AWS itself; credentials come from the standard AWS environment
    variables, config files or instance role, never from our settings."""

    region: str
    endpoint_url: str | None = None
    max_connections: int = 50
    read_timeout: float = 30.0
    """Longer than SQS's 20-second long poll."""


def open_aws_client(service: str, endpoint: AwsEndpoint) -> AbstractAsyncContextManager[Any]:
    """A client of `service` (enter it to open). aioboto3 loads only here: it costs every
    `crm` command and API process most of a second to import, and only some need it."""
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
        service, endpoint_url=endpoint.endpoint_url, config=config
    )
    return client


class HeldClient:
    """One client of `service` per adapter, opened by `open` (at the container's start) and
    closed by `close`, never per call; `get` before `open` says so with `not_open`."""

    def __init__(self, service: str, endpoint: AwsEndpoint, not_open: str) -> None:
        self._service, self._endpoint, self._not_open = service, endpoint, not_open
        self._client: Any = None
        self._stack: AsyncExitStack | None = None

    async def open(self) -> None:
        self._stack = AsyncExitStack()
        opened = open_aws_client(self._service, self._endpoint)
        self._client = await self._stack.enter_async_context(opened)

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    def get(self) -> Any:
        if self._client is None:
            raise PortError(self._not_open)
        return self._client
