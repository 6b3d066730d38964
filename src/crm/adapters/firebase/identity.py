"""Firebase Authentication as the IdentityVerifier: the Admin SDK, run off the event loop."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import firebase_admin
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
from firebase_admin import auth, credentials, exceptions

from crm.domain.errors import ServiceUnavailable, Unauthenticated
from crm.domain.model.identity import (
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    TokenWrongAudience,
    TokenWrongIssuer,
    UserDisabled,
    VerifiedIdentity,
)
from crm.ports.system import Clock

EMULATOR_HOST_VARIABLE = "FIREBASE_AUTH_EMULATOR_HOST"
ISSUER_PREFIX = "https://securetoken.google.com/"
# A hung provider must not hold a request for the SDK's default of two minutes.
HTTP_TIMEOUT_SECONDS = 10
MAX_CLOCK_SKEW_SECONDS = 60  # the most the SDK accepts

# Raised by the SDK's HTTP stack when the provider cannot answer; requests' errors are OSErrors.
_OUTAGES = (exceptions.FirebaseError, google.auth.exceptions.GoogleAuthError, OSError)


class _StaticToken(google.auth.credentials.Credentials):
    """An OAuth token that never refreshes: the emulator takes "owner", nothing reaches Google."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.token = "owner"  # noqa: S105 - the emulator's well-known admin token, no secret

    def refresh(self, request: google.auth.transport.Request) -> None:
        """Nothing to fetch: the token is static."""


class _EmulatorHostVariable:
    """Counts the live emulated verifiers that need FIREBASE_AUTH_EMULATOR_HOST set.

    The SDK reads the variable when a Client is built (for its endpoints) and again on every
    verification, where a set variable means "skip the signature check". So it stays set while
    any emulated verifier lives, and is put back as it was once the last one closes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._before: str | None = None

    def build_with(self, host: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if self._users == 0:
                self._before = os.environ.get(EMULATOR_HOST_VARIABLE)
            # The SDK has no option for the emulator: it reads this variable, and only it.
            os.environ[EMULATOR_HOST_VARIABLE] = host
            try:
                built = build()
            except BaseException:
                if self._users == 0:
                    self._restore()
                raise
            self._users += 1
            return built

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._restore()

    def _restore(self) -> None:
        os.environ.pop(EMULATOR_HOST_VARIABLE, None)
        if self._before is not None:
            os.environ[EMULATOR_HOST_VARIABLE] = self._before

    @staticmethod
    def refuse_if_set() -> None:
        if os.environ.get(EMULATOR_HOST_VARIABLE):
            raise RuntimeError(
                f"{EMULATOR_HOST_VARIABLE} is set in this process, so firebase-admin would accept "
                "unsigned tokens; a production verifier refuses to run beside an emulated one."
            )


_emulator_host = _EmulatorHostVariable()


class FirebaseIdentityVerifier:
    """Firebase ID tokens via firebase-admin; emulator mode (unsigned tokens) with a host."""

    def __init__(
        self,
        project_id: str,
        *,
        clock: Clock,
        emulator_host: str | None = None,
        check_revoked: bool = True,
        credentials_file: str | None = None,
        clock_skew_seconds: int = 0,
    ) -> None:
        if not 0 <= clock_skew_seconds <= MAX_CLOCK_SKEW_SECONDS:
            raise ValueError(f"clock_skew_seconds must be 0 to {MAX_CLOCK_SKEW_SECONDS}")
        self._project_id = project_id
        self._issuer = ISSUER_PREFIX + project_id
        self._clock = clock
        self._emulated = emulator_host is not None
        self._check_revoked = check_revoked
        self._skew = clock_skew_seconds
        self._app = firebase_admin.initialize_app(
            _credential(emulator_host, credentials_file),
            {"projectId": project_id, "httpTimeout": HTTP_TIMEOUT_SECONDS},
            name=f"crm-identity-{uuid.uuid4().hex}",
        )
        try:
            self._client = self._build_client(emulator_host)
        except BaseException:
            firebase_admin.delete_app(self._app)
            raise
        self._closed = False

    def _build_client(self, emulator_host: str | None) -> Any:
        if emulator_host is None:
            _emulator_host.refuse_if_set()
            return auth.Client(self._app)
        # Built here, not lazily on first use, so the Client's endpoints are this host's.
        return _emulator_host.build_with(emulator_host, lambda: auth.Client(self._app))

    async def verify(self, token: str) -> VerifiedIdentity:
        """The identity `token` proves, checked by Firebase and against our clock."""
        self._refuse_unsigned_tokens()
        claims = await asyncio.to_thread(self._verify_sync, token)
        # Again after: an emulated verifier built meanwhile may have switched the check off.
        self._refuse_unsigned_tokens()
        return _identity(claims)

    def _refuse_unsigned_tokens(self) -> None:
        if not self._emulated:
            _emulator_host.refuse_if_set()

    async def close(self) -> None:
        """Delete this verifier's Firebase app; the verifier is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        firebase_admin.delete_app(self._app)
        if self._emulated:
            _emulator_host.release()

    def _verify_sync(self, token: str) -> dict[str, Any]:
        if self._emulated and self._check_revoked:
            # The SDK leaves emulator tokens' times to us: judge them before asking the emulator
            # about revocation, in the order production checks them (no I/O in this pass).
            self._check_lifetime(self._verify_with_sdk(token, check_revoked=False))
        claims = self._verify_with_sdk(token, check_revoked=self._check_revoked)
        self._check_lifetime(claims)
        return claims

    def _verify_with_sdk(self, token: str, *, check_revoked: bool) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = self._client.verify_id_token(
                token, check_revoked=check_revoked, clock_skew_seconds=self._skew
            )
        except auth.ExpiredIdTokenError as e:
            raise TokenExpired("The sign-in token has expired; sign in again.") from e
        except auth.RevokedIdTokenError as e:
            raise TokenRevoked("The sign-in token has been revoked; sign in again.") from e
        except auth.UserDisabledError as e:
            raise UserDisabled("The account is disabled.") from e
        except auth.UserNotFoundError as e:
            raise InvalidToken("The account no longer exists.") from e
        except auth.InvalidIdTokenError as e:
            raise self._rejection(token) from e
        except _OUTAGES as e:
            raise ServiceUnavailable("Firebase Authentication could not be asked.") from e
        except ValueError as e:  # the SDK's word for a token that is not even a JWT
            raise InvalidToken("The sign-in token is not valid.") from e
        return claims

    def _rejection(self, token: str) -> Unauthenticated:
        """Which claim is wrong, read from the token itself: the SDK says so only in prose."""
        header, claims = _decode_unverified(token)
        # Outside the emulator the SDK refuses a token without "kid" and RS256 before its aud.
        judged = self._emulated or (header.get("kid") and header.get("alg") == "RS256")
        aud, iss = claims.get("aud"), claims.get("iss")
        if judged and aud is not None and aud != self._project_id:
            return TokenWrongAudience("The sign-in token was issued for another project.")
        if judged and iss is not None and iss != self._issuer:
            return TokenWrongIssuer("The sign-in token was not issued by Firebase for us.")
        return InvalidToken("The sign-in token is not valid.")

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """The SDK skips these checks for emulator tokens, and uses the host's clock, not ours."""
        exp, iat = _seconds(claims.get("exp")), _seconds(claims.get("iat"))
        if exp is None or iat is None:
            raise InvalidToken("The sign-in token has no valid lifetime.")
        # Whole seconds, as google-auth compares them, so both checks agree at the boundary.
        now = int(self._clock.now().timestamp())
        if now > exp + self._skew:
            raise TokenExpired("The sign-in token has expired; sign in again.")
        if iat > now + self._skew:
            raise InvalidToken("The sign-in token was issued in the future.")


def _credential(emulator_host: str | None, credentials_file: str | None) -> Any:
    if credentials_file is not None:
        return credentials.Certificate(credentials_file)
    if emulator_host is not None:
        return _StaticToken()
    return credentials.ApplicationDefault()


def _decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JWT header and payload, unchecked; empty when the token does not even decode."""
    parts = token.split(".")
    return (_json_segment(parts[0]), _json_segment(parts[1])) if len(parts) == 3 else ({}, {})


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:  # bad base64, UTF-8 or JSON alike
        return {}
    return value if isinstance(value, dict) else {}


def _seconds(value: object) -> float | None:
    """A NumericDate claim, or None when it is missing or not a finite number."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _identity(claims: dict[str, Any]) -> VerifiedIdentity:
    return VerifiedIdentity(
        uid=str(claims.get("uid") or claims["sub"]),
        email=_optional_str(claims.get("email")),
        email_verified=claims.get("email_verified") is True,
        name=_optional_str(claims.get("name")),
        picture=_optional_str(claims.get("picture")),
    )
