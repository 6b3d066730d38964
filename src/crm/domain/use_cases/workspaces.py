from __future__ import annotations

from uuid import UUID

from crm.domain.errors import WorkspaceNotFound
from crm.domain.model.permissions import Caller
from crm.domain.model.workspace import Membership
from crm.domain.pagination import Page, PageRequest
from crm.ports.unit_of_work import UnitOfWorkFactory


class ListMyWorkspaces:
    """The workspaces you belong to, with your role in each, oldest membership first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, user_id: UUID, page: PageRequest) -> Page[Membership]:
        async with self._uow() as uow:
            return await uow.members.list_for_user(user_id, page)


class GetWorkspace:
    """A workspace you belong to (people) or your key's own workspace; any other is 404."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, caller: Caller, workspace_id: UUID) -> Membership:
        async with self._uow() as uow:
            workspace = await uow.workspaces.get(workspace_id)
            member = None
            if workspace is not None and caller.person is not None:
                member = await uow.members.get(workspace_id, caller.person.user_id)
        own_key = caller.person is None and (
            caller.principal is not None and caller.principal.workspace_id == workspace_id
        )
        if workspace is None or (member is None and not own_key):
            raise WorkspaceNotFound(f"No workspace {workspace_id} for you.")
        if member is None:
            return Membership(workspace, None, workspace.created_at)
        return Membership(workspace, member.role, member.created_at)
