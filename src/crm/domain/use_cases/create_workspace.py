from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm.domain.model.permissions import Role, Scope
from crm.domain.model.pipeline import Pipeline
from crm.domain.model.workspace import ApiKey, ApiKeySecrets, Member, Workspace
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateWorkspaceCommand:
    name: str
    key_name: str | None = "default"
    """The operator's first API key (admin scope); None mints none."""
    owner_id: UUID | None = None
    """The person who becomes its owner; None when an operator creates it."""


@dataclass(frozen=True, slots=True)
class CreatedWorkspace:
    workspace: Workspace
    api_key: ApiKey | None
    secret: str | None
    """Shown once; only its hash is stored."""


class CreateWorkspace:
    """Create a workspace with the default sales pipeline; the person creating it becomes its
    owner."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, secrets: ApiKeySecrets
    ) -> None:
        self._uow, self._clock, self._ids, self._secrets = uow, clock, ids, secrets

    async def execute(self, cmd: CreateWorkspaceCommand) -> CreatedWorkspace:
        now = self._clock.now()
        workspace = Workspace(self._ids.new_id(), Workspace.validate_name(cmd.name), now)
        key, secret = None, None
        if cmd.key_name is not None:
            secret = self._secrets.mint()
            key = ApiKey(
                id=self._ids.new_id(),
                workspace_id=workspace.id,
                name=ApiKey.validate_name(cmd.key_name),
                prefix=ApiKeySecrets.display_prefix(secret),
                secret_hash=self._secrets.hash(secret),
                scopes=frozenset({Scope.ADMIN}),
                created_at=now,
            )
        async with self._uow() as uow:
            await uow.workspaces.add(workspace)
            pipeline = Pipeline.default(self._ids.new_id(), workspace.id, self._ids.new_id, now)
            await uow.pipelines.add(pipeline)
            if cmd.owner_id is not None:
                await uow.members.add(Member(workspace.id, cmd.owner_id, Role.OWNER, now))
            if key is not None:
                await uow.api_keys.add(key)
            await uow.commit()
        return CreatedWorkspace(workspace, key, secret)
