"""Name resolution with the operating system's resolver (getaddrinfo)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from crm.domain.model.webhook_targets import IPAddress
from crm.ports.webhooks import HostUnresolvable


class SystemResolver:
    """Every address getaddrinfo gives for a TCP connection, in its order, each once."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(self._timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError, UnicodeError) as e:
            raise HostUnresolvable(f"{host} does not resolve: {e}") from e
        found: dict[IPAddress, None] = {}
        for *_, sockaddr in infos:
            # An IPv6 link-local answer may carry a zone ("fe80::1%eth0"); the address is
            # what the policy judges.
            found.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        if not found:
            raise HostUnresolvable(f"{host} has no address")
        return list(found)
