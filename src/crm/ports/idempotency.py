"""Idempotent requests: a key is claimed once, and its first response is kept and replayed."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

IN_USE_DETAIL = "Another request with this Idempotency-Key is still running; retry shortly."
REUSED_DETAIL = "This Idempotency-Key was used for a different request; send a new key."


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key, scoped to the workspace and the credential that sent it."""

    workspace_id: UUID
    credential_id: UUID
    key: str
    fingerprint: bytes
    """A digest of what the request asks for (method, path and body)."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Claim(Protocol):
    replay: StoredResponse | None
    """The first request's response when this key was already used with the same request."""

    async def complete(self, response: StoredResponse) -> None:
        """Keep `response` for the key and commit it with the request's effects, atomically."""


class IdempotencyStore(Protocol):
    def claim(self, key: IdempotencyKey) -> AbstractAsyncContextManager[Claim]:
        """Hold `key` while the request runs; the units of work opened inside join its
        transaction, so leaving without `complete` undoes their effects as well.

        Raises IdempotencyKeyInUse while another request holds the key, and
        IdempotencyKeyReused when the key's kept response answered a different request.
        """

    async def purge(self, now: datetime) -> int:
        """Forget keys whose retention has expired; returns how many were removed."""
