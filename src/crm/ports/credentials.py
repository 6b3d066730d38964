"""Telling every process that caches callers that a credential changed (revoked, removed,
role changed), so the change takes effect at once instead of when the cache expires."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CredentialChange:
    """Callers resolved for this actor in this workspace must be resolved afresh."""

    workspace_id: UUID
    actor_id: UUID
    """An API key's id, or a member's user id."""


CredentialListener = Callable[[CredentialChange | None], None]
"""Told of each change; of None when changes may have been missed (forget every caller)."""


class CredentialInvalidation(Protocol):
    async def invalidate(self, change: CredentialChange) -> None:
        """Announce a committed change to this process at once and to the others as soon as
        the channel allows; never raises (a lost announcement is bounded by the cache TTL)."""

    def subscribe(self, listener: CredentialListener) -> None:
        """Call `listener` for every change any process announces from now on."""
