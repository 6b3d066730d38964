from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm.domain.errors import ApiKeyNotFound, WorkspaceNotFound
from crm.domain.model.workspace import ApiKey, ApiKeySecrets, Role
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateApiKeyCommand:
    workspace_id: UUID
    name: str
    role: Role = Role.ADMIN


class CreateApiKey:
    """Mint a new API key for a workspace; the secret is returned once and stored hashed."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, secrets: ApiKeySecrets
    ) -> None:
        self._uow, self._clock, self._ids, self._secrets = uow, clock, ids, secrets

    async def execute(self, cmd: CreateApiKeyCommand) -> tuple[ApiKey, str]:
        secret = self._secrets.mint()
        key = ApiKey(
            id=self._ids.new_id(),
            workspace_id=cmd.workspace_id,
            name=cmd.name,
            prefix=ApiKeySecrets.display_prefix(secret),
            secret_hash=self._secrets.hash(secret),
            role=cmd.role,
            created_at=self._clock.now(),
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


class RevokeApiKey:
    """Revoke an API key for good; revoking twice is harmless."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, cmd: RevokeApiKeyCommand) -> ApiKey:
        async with self._uow() as uow:
            key = await uow.api_keys.get(cmd.workspace_id, cmd.key_id)
            if key is None:
                raise ApiKeyNotFound(f"No API key {cmd.key_id} in this workspace.")
            key.revoke(self._clock.now())
            await uow.api_keys.save(key)
            await uow.commit()
        return key
