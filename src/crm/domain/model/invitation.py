"""Invitations: an admin asks someone, by email, to join a workspace with a role.

The token in the email is signed (HMAC-SHA256 with the service's key) and names the
invitation and a one-time nonce; only a hash of the nonce is stored. Resending mints a new
nonce and a new expiry, so the older link stops working. Accepting spends the invitation.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from crm.domain.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from crm.domain.model.permissions import Role

INVITATION_TTL = timedelta(days=7)
TOKEN_PREFIX = "inv_"  # noqa: S105 (a prefix, not a secret)


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    title = "Invitation not found"


class InvitationNotPending(Conflict):
    code = "invitation_not_pending"
    title = "The invitation can no longer be used"


class InvitationEmailMismatch(PermissionDenied):
    code = "invitation_email_mismatch"
    title = "The invitation was sent to another email address"


class InvitationExists(Conflict):
    code = "invitation_exists"
    title = "An open invitation to this address exists"

    @classmethod
    def to(cls, email: str) -> InvitationExists:
        return cls(
            f"{email} already has an open invitation to this workspace; resend or revoke it.",
            errors=(FieldError("/email", "invitation_exists", "already invited"),),
        )


class AlreadyMember(Conflict):
    code = "already_member"
    title = "The person is already a member of this workspace"


@dataclass(slots=True)
class Invitation:
    id: UUID
    workspace_id: UUID
    email: str
    role: Role
    invited_by: UUID
    nonce_hash: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: UUID | None = None
    revoked_at: datetime | None = None
    sent_at: datetime | None = None
    send_attempts: int = 0
    last_send_error: str | None = None

    def status(self, now: datetime) -> InvitationStatus:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING

    def renew(self, nonce_hash: str, now: datetime) -> None:
        """A fresh link for a resend: the previous one stops working."""
        self.require_pending(now, allow_expired=True)
        self.nonce_hash, self.expires_at = nonce_hash, now + INVITATION_TTL

    def accept(self, user_id: UUID, email: str | None, verified: bool, now: datetime) -> None:
        self.require_pending(now)
        if email is None or not verified or email.casefold() != self.email:
            raise InvitationEmailMismatch(
                "Sign in with the verified email address the invitation was sent to."
            )
        self.accepted_at, self.accepted_by = now, user_id

    def revoke(self, now: datetime) -> None:
        self.require_pending(now, allow_expired=True)
        self.revoked_at = now

    def record_delivery(self, now: datetime, error: str | None) -> None:
        self.send_attempts += 1
        self.last_send_error = error
        if error is None:
            self.sent_at = now

    def require_pending(self, now: datetime, *, allow_expired: bool = False) -> None:
        status = self.status(now)
        if status is InvitationStatus.PENDING or (
            allow_expired and status is InvitationStatus.EXPIRED
        ):
            return
        raise InvitationNotPending(f"The invitation is {status.value}.")

    @staticmethod
    def normalize_email(raw: str) -> str:
        email = raw.strip().casefold()
        local, at, domain = email.partition("@")
        if not at or not local or "." not in domain or len(email) > 254 or " " in email:
            raise InvalidInput(
                "Invite a valid email address.",
                errors=(FieldError("/email", "invalid_email", "not an email address"),),
            )
        return email


@dataclass(frozen=True, slots=True)
class InvitationToken:
    invitation_id: UUID
    nonce: bytes


class InvitationTokens:
    """Mints and checks the signed tokens that invitation emails carry."""

    def __init__(self, signing_key: bytes) -> None:
        self._key = hashlib.sha256(b"crm-invitation:" + signing_key).digest()

    def mint(self, invitation_id: UUID) -> tuple[str, str]:
        """A new token and the nonce hash to store with the invitation."""
        nonce = secrets.token_bytes(16)
        payload = invitation_id.bytes + nonce
        signature = hmac.new(self._key, payload, hashlib.sha256).digest()
        token = TOKEN_PREFIX + _b64(payload) + "." + _b64(signature)
        return token, self.nonce_hash(nonce)

    def read(self, token: str) -> InvitationToken:
        """The invitation a well-signed token names; anything else is not found."""
        try:
            payload_part, signature_part = token.removeprefix(TOKEN_PREFIX).split(".")
            payload, signature = _unb64(payload_part), _unb64(signature_part)
        except (ValueError, binascii.Error) as e:
            raise InvitationNotFound("The invitation link is not valid.") from e
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()
        if len(payload) != 32 or not hmac.compare_digest(signature, expected):
            raise InvitationNotFound("The invitation link is not valid.")
        return InvitationToken(UUID(bytes=payload[:16]), payload[16:])

    @staticmethod
    def nonce_hash(nonce: bytes) -> str:
        return hashlib.sha256(nonce).hexdigest()

    def matches(self, invitation: Invitation, token: InvitationToken) -> bool:
        return hmac.compare_digest(invitation.nonce_hash, self.nonce_hash(token.nonce))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
