from __future__ import annotations

import re
from datetime import datetime, timedelta
from uuid import UUID

from crm.domain.errors import (
    AlreadyExists,
    ApiKeyExpired,
    ApiKeyRevoked,
    FieldError,
    InvalidInput,
    Unauthenticated,
    WorkspaceNotFound,
)
from crm.domain.model.identity import VerifiedIdentity
from crm.domain.model.permissions import Caller, Person
from crm.domain.model.workspace import API_KEY_FORMAT, API_KEY_PREFIX, ApiKey, ApiKeySecrets, User
from crm.ports.identity import IdentityVerifier
from crm.ports.repositories import ApiKeyReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory

TOUCH_EVERY = timedelta(minutes=1)
# Three base64url segments (header, claims, signature), as every JWT is; only such a token
# is worth a signature check. The Auth emulator signs nothing: its signatures are empty.
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# The canonical form only: `uuid.UUID` also takes braces, `urn:uuid:` and no hyphens.
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "The credentials are not valid"


class UnknownApiKey(InvalidCredentials):
    """Shaped like an API key but none has it; it never will (secrets are random)."""


class Authenticate:
    """Turn a bearer token into its caller: an API key acts in its own workspace; a signed-in
    person (Firebase ID token) acts in the workspace X-Workspace-ID names, if a member there.
    A person's first sign-in creates their user from the token."""

    def __init__(
        self,
        keys: ApiKeyReader,
        secrets: ApiKeySecrets,
        identity: IdentityVerifier,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._keys, self._secrets, self._identity = keys, secrets, identity
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, token: str, workspace: str | None = None) -> Caller:
        workspace_id = None if workspace is None else _workspace_id(workspace)
        if ApiKeySecrets.looks_like_key(token):
            return await self._api_key(token, workspace_id)
        if _JWT.fullmatch(token):
            return await self._person(await self._identity.verify(token), workspace_id)
        raise _malformed(token)

    async def _api_key(self, token: str, workspace_id: UUID | None) -> Caller:
        key = await self._keys.find_by_hash(self._secrets.hash(token))
        if key is None:
            raise UnknownApiKey("The API key is unknown.")
        now = self._clock.now()
        _check_usable(key, now)
        if workspace_id is not None and workspace_id != key.workspace_id:
            raise WorkspaceNotFound(f"No workspace {workspace_id} for this API key.")
        if key.last_used_at is None or key.last_used_at <= now - TOUCH_EVERY:
            await self._keys.touch(key.id, now)
        return Caller(key.principal(), None)

    async def _person(self, identity: VerifiedIdentity, workspace_id: UUID | None) -> Caller:
        try:
            return await self._sign_in(identity, workspace_id)
        except AlreadyExists:
            # Two first sign-ins raced; the other one created the user.
            return await self._sign_in(identity, workspace_id)

    async def _sign_in(self, identity: VerifiedIdentity, workspace_id: UUID | None) -> Caller:
        async with self._uow() as uow:
            user = await uow.users.get_by_uid(identity.uid)
            if user is None:
                user = User(self._ids.new_id(), None, None, self._clock.now(), identity.uid)
                user.refresh(identity)
                await uow.users.add(user)
            elif user.refresh(identity):
                await uow.users.save(user)
            member = None
            if workspace_id is not None:
                member = await uow.members.get(workspace_id, user.id)
                if member is None:
                    raise WorkspaceNotFound(f"You are not a member of workspace {workspace_id}.")
            await uow.commit()
        person = Person(user.id, user.email, user.email_verified)
        return Caller(None if member is None else member.principal(), person)


def _check_usable(key: ApiKey, now: datetime) -> None:
    if not key.is_active:
        raise ApiKeyRevoked("The API key has been revoked; create a new one.")
    if key.expires_at is not None and key.is_expired(now):
        raise ApiKeyExpired(f"The API key expired at {key.expires_at.isoformat()}.")


def _malformed(token: str) -> InvalidCredentials:
    """Neither an API key nor a JWT: say what each looks like, never echo the token."""
    if token.startswith(API_KEY_PREFIX):
        return InvalidCredentials(
            f"This is not an API key: a key is {API_KEY_FORMAT} (copy it whole; it is shown "
            "once, when created)."
        )
    return InvalidCredentials(
        f"The bearer token is neither an API key ({API_KEY_FORMAT}) nor a Firebase ID token "
        "(a JWT: three base64url segments separated by dots)."
    )


def _workspace_id(raw: str) -> UUID:
    if _UUID.fullmatch(raw) is None:
        raise InvalidInput(
            "X-Workspace-ID must be a workspace id, a UUID such as "
            "0192f0c1-7a4e-7b3d-9c2a-1f2e3d4c5b6a (GET /v1/workspaces lists yours).",
            errors=(FieldError("X-Workspace-ID", "invalid_uuid", "must be a UUID"),),
        )
    return UUID(raw)
