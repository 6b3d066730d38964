"""Webhook POSTs with aiohttp, each new connection made to an address the target policy allows.

Every new connection resolves the host through our resolver, which checks every address it
got (one refused address refuses the host: a name pointing both outside and inside is not
trusted); aiohttp then connects to those addresses, not to the name again, so DNS cannot
answer differently between the check and the connect (rebinding). There is no DNS cache:
each new connection resolves afresh. An IP literal is never resolved, so it is checked
before the request. The URL keeps the name, so the Host header and TLS (SNI and the
certificate check) are the name's. Pooled keep-alive connections were checked when opened.
Redirects are not followed, no proxy from the environment is used, and at most 4 KiB of an
answer is read before the connection is dropped.

aiohttp rather than httpx: a POST through httpx's pool costs about 2 ms of CPU at 32
concurrent requests, through aiohttp about 0.1 ms (bench/README.md, events).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from crm.domain.model.webhook_deliveries import MAX_RESPONSE_BYTES, AttemptResult
from crm.domain.model.webhook_targets import TargetPolicy, WebhookUrlRefused
from crm.ports.webhooks import HostResolver, HostUnresolvable


class _CheckedResolver(AbstractResolver):
    """Our resolver's addresses for a new connection, every one allowed by the policy."""

    def __init__(self, resolver: HostResolver, policy: TargetPolicy) -> None:
        self._resolver, self._policy = resolver, policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolver.resolve(host, port)
        for address in addresses:
            self._policy.check_address(host, address)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


class AiohttpWebhookSender:
    """`timeout_seconds` bounds a whole attempt: resolving, connecting, sending and reading.
    The session is opened by the first send (aiohttp wants a running loop)."""

    def __init__(
        self,
        resolver: HostResolver,
        policy: TargetPolicy,
        timeout_seconds: float = 10.0,
        connections: int = 64,
    ) -> None:
        self._resolver, self._policy = resolver, policy
        self._timeout, self._connections = timeout_seconds, connections
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()
        status, error = None, None
        try:
            async with asyncio.timeout(self._timeout):
                self._check_literal(url)
                status = await self._post(url, headers, body)
        except WebhookUrlRefused as e:
            error = f"address refused: {e.errors[0].message if e.errors else e.detail}"
        except HostUnresolvable as e:
            error = f"could not resolve the host: {e}"
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as e:
            error = f"connection failed: {type(e).__name__}: {e}".rstrip(": ")
        latency = round((time.monotonic() - started) * 1000)
        return AttemptResult(None if error else status, latency, error)

    def _check_literal(self, url: str) -> None:
        """aiohttp connects to an IP literal without resolving it: check it here."""
        host = urlsplit(url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
        self._policy.check_address(host, address)

    async def _post(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        session = self._session or self._open()
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as r:
            read = 0
            while read < MAX_RESPONSE_BYTES:
                chunk = await r.content.read(MAX_RESPONSE_BYTES - read)
                if not chunk:
                    break
                read += len(chunk)
            else:
                r.close()  # more than we read: drop the connection, never drain it
            return r.status

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=_CheckedResolver(self._resolver, self._policy),
            use_dns_cache=False,
            limit=self._connections,
            limit_per_host=0,
            keepalive_timeout=5.0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding",),
            trust_env=False,
        )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
