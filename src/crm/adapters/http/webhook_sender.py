"""Webhook POSTs with httpx, each connection pinned to an address the target policy allows.

Every new connection resolves the host itself, checks every address it got (one refused
address refuses the host: a name pointing both outside and inside is not trusted) and then
connects to that address, not to the name again: DNS cannot answer differently between the
check and the connect (rebinding). The URL keeps the name, so the Host header and TLS (SNI
and the certificate check) are the name's. Pooled connections were checked when opened.
Redirects are not followed, no proxy from the environment is used, and at most 4 KiB of an
answer is read before the connection is dropped.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import typing
from collections.abc import AsyncIterator, Mapping

import httpcore
import httpx

from crm.domain.model.webhook_deliveries import MAX_RESPONSE_BYTES, AttemptResult
from crm.domain.model.webhook_targets import TargetPolicy, WebhookUrlRefused
from crm.ports.webhooks import HostResolver, HostUnresolvable


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, resolver: HostResolver, policy: TargetPolicy) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolver, self._policy = resolver, policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolver.resolve(host, port)
        for address in addresses:
            self._policy.check_address(host, address)
        failed: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failed = e
        raise failed

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class _PinnedTransport(httpx.AsyncBaseTransport):
    """httpx's request and response over an httpcore pool using the pinned backend."""

    def __init__(self, backend: _PinnedBackend, connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=5.0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, typing.AsyncIterable)  # noqa: S101 (httpx's own)
        sent = await self._pool.handle_async_request(
            httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=request.url.raw_scheme,
                    host=request.url.raw_host,
                    port=request.url.port,
                    target=request.url.raw_path,
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        )
        assert isinstance(sent.stream, typing.AsyncIterable)  # noqa: S101
        return httpx.Response(
            status_code=sent.status,
            headers=sent.headers,
            stream=_Body(sent.stream),
            extensions=sent.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class HttpxWebhookSender:
    """`timeout_seconds` bounds a whole attempt: resolving, connecting, sending and reading."""

    def __init__(
        self,
        resolver: HostResolver,
        policy: TargetPolicy,
        timeout_seconds: float = 10.0,
        connections: int = 64,
    ) -> None:
        self._timeout = timeout_seconds
        self._client = httpx.AsyncClient(
            transport=_PinnedTransport(_PinnedBackend(resolver, policy), connections),
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()
        status, error = None, None
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._post(url, headers, body)
        except WebhookUrlRefused as e:
            error = f"address refused: {e.errors[0].message if e.errors else e.detail}"
        except HostUnresolvable as e:
            error = f"could not resolve the host: {e}"
        except (TimeoutError, httpcore.TimeoutException, httpx.TimeoutException):
            error = f"timed out after {self._timeout:g} s"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpx.HTTPError, OSError) as e:
            error = f"connection failed: {type(e).__name__}: {e}".rstrip(": ")
        latency = round((time.monotonic() - started) * 1000)
        return AttemptResult(None if error else status, latency, error)

    async def _post(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        async with self._client.stream("POST", url, headers=dict(headers), content=body) as r:
            read = 0
            async for chunk in r.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
            return r.status_code

    async def close(self) -> None:
        await self._client.aclose()
