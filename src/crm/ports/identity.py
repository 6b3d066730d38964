"""Verifying the ID tokens people sign in with (Firebase Authentication in production)."""

from __future__ import annotations

from typing import Protocol

from crm.domain.model.identity import VerifiedIdentity


class IdentityVerifier(Protocol):
    async def verify(self, token: str) -> VerifiedIdentity:
        """The identity `token` proves. Raises InvalidToken, TokenExpired, TokenWrongAudience,
        TokenWrongIssuer, TokenRevoked, UserDisabled or SignInNotConfigured
        (crm.domain.model.identity) when it
        proves nothing, and ServiceUnavailable when the provider cannot be asked."""
