"""A resolver answering from a table (tests: a name that resolves where the test says)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from crm.domain.model.webhook_targets import IPAddress
from crm.ports.webhooks import HostResolver, HostUnresolvable


class StaticResolver:
    """Names in the table resolve to their addresses (changeable with `point`); IP literals
    to themselves; other names through `fallback`, else not at all."""

    def __init__(
        self, table: Mapping[str, Sequence[str]] | None = None, fallback: HostResolver | None = None
    ) -> None:
        self._table: dict[str, list[IPAddress]] = {}
        self._fallback = fallback
        for host, addresses in (table or {}).items():
            self.point(host, *addresses)

    def point(self, host: str, *addresses: str) -> None:
        """From now on `host` resolves to `addresses`."""
        self._table[host.lower()] = [ipaddress.ip_address(a) for a in addresses]

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        found = self._table.get(host.lower())
        if found:
            return list(found)
        if self._fallback is not None:
            return await self._fallback.resolve(host, port)
        raise HostUnresolvable(f"{host} is not in the table")
