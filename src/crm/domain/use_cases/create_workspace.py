from __future__ import annotations

from dataclasses import dataclass

from crm.domain.model.workspace import ApiKey, ApiKeySecrets, Role, Workspace
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateWorkspaceCommand:
    name: str
    key_name: str = "default"


@dataclass(frozen=True, slots=True)
class CreatedWorkspace:
    workspace: Workspace
    api_key: ApiKey
    secret: str
    """Shown once; only its hash is stored."""


class CreateWorkspace:
    """Create a workspace together with its first admin API key."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, secrets: ApiKeySecrets
    ) -> None:
        self._uow, self._clock, self._ids, self._secrets = uow, clock, ids, secrets

    async def execute(self, cmd: CreateWorkspaceCommand) -> CreatedWorkspace:
        now = self._clock.now()
        workspace = Workspace(self._ids.new_id(), Workspace.validate_name(cmd.name), now)
        secret = self._secrets.mint()
        key = ApiKey(
            id=self._ids.new_id(),
            workspace_id=workspace.id,
            name=cmd.key_name,
            prefix=ApiKeySecrets.display_prefix(secret),
            secret_hash=self._secrets.hash(secret),
            role=Role.ADMIN,
            created_at=now,
        )
        async with self._uow() as uow:
            await uow.workspaces.add(workspace)
            await uow.api_keys.add(key)
            await uow.commit()
        return CreatedWorkspace(workspace, key, secret)
