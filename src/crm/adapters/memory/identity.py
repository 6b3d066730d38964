"""An IdentityVerifier that issues its own opaque tokens: for tests and the zero-config run.

It fails the way Firebase does for the same situation: wrong audience or issuer, expiry by the
injected clock, disabled accounts, and revocation to the whole second (Firebase keeps the
revocation time in seconds, so a token issued in the second of a revocation stays valid).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.domain.model.identity import (
    InvalidToken,
    SignInNotConfigured,
    TokenExpired,
    TokenRevoked,
    TokenWrongAudience,
    TokenWrongIssuer,
    UserDisabled,
    VerifiedIdentity,
)
from crm.ports.system import Clock

ISSUER_PREFIX = "https://securetoken.google.com/"
TOKEN_LIFETIME = timedelta(hours=1)  # what Firebase gives an ID token


@dataclass(frozen=True, slots=True)
class _Issued:
    identity: VerifiedIdentity
    issued_at: int
    expires_at: int
    audience: str
    issuer: str


class NoSignIn:
    """For a service with no identity provider configured: API keys only. Every sign-in token
    is refused with a code that says so, rather than judged invalid."""

    async def verify(self, token: str) -> VerifiedIdentity:
        raise SignInNotConfigured(
            "This service takes API keys only: no Firebase project is configured "
            "(CRM_FIREBASE_PROJECT_ID), so nobody can sign in with an ID token."
        )


class InMemoryIdentityVerifier:
    """Verifies the tokens it issued itself, failing as Firebase would."""

    def __init__(self, clock: Clock, *, project_id: str = "crm-local") -> None:
        self._clock = clock
        self._project_id = project_id
        self._issuer = ISSUER_PREFIX + project_id
        self._issued: dict[str, _Issued] = {}
        self._valid_since: dict[str, int] = {}
        self._disabled: set[str] = set()

    def issue(
        self,
        identity: VerifiedIdentity,
        *,
        expires_at: datetime | None = None,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> str:
        """A new opaque token proving `identity`, valid for an hour unless told otherwise."""
        now = self._clock.now()
        # Shaped like a JWT (as Firebase's are), since only such tokens are sent to be verified.
        token = f"eyJhbGciOiJub25lIn0.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(16)}"
        self._issued[token] = _Issued(
            identity=identity,
            issued_at=_seconds(now),
            expires_at=_seconds(expires_at or now + TOKEN_LIFETIME),
            audience=self._project_id if audience is None else audience,
            issuer=self._issuer if issuer is None else issuer,
        )
        return token

    def revoke_tokens(self, uid: str) -> None:
        """Revoke every token issued to `uid` before the current second."""
        self._valid_since[uid] = _seconds(self._clock.now())

    def disable(self, uid: str) -> None:
        """Refuse every token of `uid` from now on."""
        self._disabled.add(uid)

    async def verify(self, token: str) -> VerifiedIdentity:
        """The identity `token` proves, checked in the order Firebase checks it."""
        issued = self._issued.get(token)
        if issued is None:
            raise InvalidToken("The sign-in token is not valid.")
        if issued.audience != self._project_id:
            raise TokenWrongAudience("The sign-in token was issued for another project.")
        if issued.issuer != self._issuer:
            raise TokenWrongIssuer("The sign-in token was not issued by Firebase for us.")
        self._check_lifetime(issued)
        uid = issued.identity.uid
        if uid in self._disabled:
            raise UserDisabled("The account is disabled.")
        if issued.issued_at < self._valid_since.get(uid, 0):
            raise TokenRevoked("The sign-in token has been revoked; sign in again.")
        return issued.identity

    def _check_lifetime(self, issued: _Issued) -> None:
        now = _seconds(self._clock.now())
        if now > issued.expires_at:
            raise TokenExpired("The sign-in token has expired; sign in again.")
        if issued.issued_at > now:
            raise InvalidToken("The sign-in token was issued in the future.")


def _seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, the resolution of JWT times."""
    return int(moment.timestamp())
