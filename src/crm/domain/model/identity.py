"""People as an identity provider proves them, and the ways a sign-in token fails."""

from __future__ import annotations

from dataclasses import dataclass

from crm.domain.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """What a valid ID token proves about the person presenting it."""

    uid: str
    email: str | None
    email_verified: bool
    name: str | None
    picture: str | None


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "The sign-in token is not valid"


class TokenExpired(Unauthenticated):
    code = "token_expired"
    title = "The sign-in token has expired"


class TokenWrongAudience(Unauthenticated):
    code = "token_wrong_audience"
    title = "The sign-in token was issued for another project"


class TokenWrongIssuer(Unauthenticated):
    code = "token_wrong_issuer"
    title = "The sign-in token was not issued by the expected issuer"


class TokenRevoked(Unauthenticated):
    code = "token_revoked"
    title = "The sign-in token has been revoked"


class UserDisabled(Unauthenticated):
    code = "user_disabled"
    title = "The user account is disabled"


class SignInNotConfigured(Unauthenticated):
    code = "sign_in_not_configured"
    title = "This service does not sign people in"
