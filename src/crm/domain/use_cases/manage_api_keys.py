from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.errors import ApiKeyNotFound, FieldError, InvalidInput, WorkspaceNotFound
from crm.domain.model.permissions import Action, Principal, Scope
from crm.domain.model.workspace import ApiKey, ApiKeySecrets
from crm.domain.pagination import Page, PageRequest
from crm.ports.credentials import CredentialChange, CredentialInvalidation
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateApiKeyCommand:
    workspace_id: UUID
    name: str
    scopes: frozenset[Scope] = frozenset({Scope.ADMIN})
    expires_at: datetime | None = None
    principal: Principal | None = None
    """Who asks; None is the operator at the command line."""


def _authorize(principal: Principal | None, workspace_id: UUID) -> None:
    if principal is not None:
        principal.require(Action.MANAGE_API_KEYS)
        if principal.workspace_id != workspace_id:
            raise WorkspaceNotFound(f"No workspace {workspace_id}.")


class CreateApiKey:
    """Mint an API key with scopes and an optional expiry (admins only); the secret is
    returned once and stored hashed."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, secrets: ApiKeySecrets
    ) -> None:
        self._uow, self._clock, self._ids, self._secrets = uow, clock, ids, secrets

    async def execute(self, cmd: CreateApiKeyCommand) -> tuple[ApiKey, str]:
        _authorize(cmd.principal, cmd.workspace_id)
        now = self._clock.now()
        if cmd.expires_at is not None and cmd.expires_at <= now:
            raise InvalidInput(
                "An API key must expire in the future.",
                errors=(FieldError("/expires_at", "in_the_past", "must be in the future"),),
            )
        if not cmd.scopes:
            raise InvalidInput(
                "Give the key at least one scope.",
                errors=(FieldError("/scopes", "empty", "at least one scope"),),
            )
        secret = self._secrets.mint()
        key = ApiKey(
            id=self._ids.new_id(),
            workspace_id=cmd.workspace_id,
            name=ApiKey.validate_name(cmd.name),
            prefix=ApiKeySecrets.display_prefix(secret),
            secret_hash=self._secrets.hash(secret),
            scopes=cmd.scopes,
            created_at=now,
            expires_at=cmd.expires_at,
            created_by=None if cmd.principal is None else cmd.principal.actor_id,
        )
        async with self._uow() as uow:
            if await uow.workspaces.get(cmd.workspace_id) is None:
                raise WorkspaceNotFound(f"No workspace {cmd.workspace_id}.")
            await uow.api_keys.add(key)
            await uow.commit()
        return key, secret


@dataclass(frozen=True, slots=True)
class RevokeApiKeyCommand:
    workspace_id: UUID
    key_id: UUID
    principal: Principal | None = None


class RevokeApiKey:
    """Revoke an API key for good (admins only), refused at once by every API process;
    revoking twice is harmless."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, credentials: CredentialInvalidation
    ) -> None:
        self._uow, self._clock, self._credentials = uow, clock, credentials

    async def execute(self, cmd: RevokeApiKeyCommand) -> ApiKey:
        _authorize(cmd.principal, cmd.workspace_id)
        async with self._uow() as uow:
            key = await uow.api_keys.get(cmd.workspace_id, cmd.key_id)
            if key is None:
                raise ApiKeyNotFound(f"No API key {cmd.key_id} in this workspace.")
            key.revoke(self._clock.now())
            await uow.api_keys.save(key)
            await uow.commit()
        await self._credentials.invalidate(CredentialChange(key.workspace_id, key.id))
        return key


class ListApiKeys:
    """The workspace's API keys (never their secrets), revoked ones included, oldest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, page: PageRequest) -> Page[ApiKey]:
        principal.require(Action.MANAGE_API_KEYS)
        async with self._uow() as uow:
            return await uow.api_keys.list(principal.workspace_id, page)


class GetApiKey:
    """One API key of the workspace (never its secret)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, key_id: UUID) -> ApiKey:
        principal.require(Action.MANAGE_API_KEYS)
        async with self._uow() as uow:
            key = await uow.api_keys.get(principal.workspace_id, key_id)
        if key is None:
            raise ApiKeyNotFound(f"No API key {key_id} in this workspace.")
        return key
