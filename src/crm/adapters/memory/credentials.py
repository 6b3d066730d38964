"""Credential changes announced within this process only (development, tests, one process)."""

from __future__ import annotations

from crm.ports.credentials import CredentialChange, CredentialListener


class InMemoryCredentialInvalidation:
    """Tells this process's listeners at once; other processes never hear of it."""

    def __init__(self) -> None:
        self._listeners: list[CredentialListener] = []

    async def invalidate(self, change: CredentialChange) -> None:
        """Tell every listener of this process."""
        for listener in self._listeners:
            listener(change)

    def subscribe(self, listener: CredentialListener) -> None:
        self._listeners.append(listener)
