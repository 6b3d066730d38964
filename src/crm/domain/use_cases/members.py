from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm.domain.errors import LastOwner, MemberNotFound, WorkspaceNotFound
from crm.domain.model.events import MemberRemoved, MemberRoleChanged
from crm.domain.model.permissions import Action, Principal, Role
from crm.domain.model.workspace import Member, MemberView
from crm.domain.pagination import Page, PageRequest
from crm.ports.credentials import CredentialChange, CredentialInvalidation
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


class ListMembers:
    """The workspace's members with their roles and profiles, oldest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, page: PageRequest) -> Page[MemberView]:
        principal.require(Action.READ_MEMBERS)
        async with self._uow() as uow:
            return await uow.members.list(principal.workspace_id, page)


@dataclass(frozen=True, slots=True)
class ChangeRoleCommand:
    principal: Principal
    user_id: UUID
    role: Role


class ChangeMemberRole:
    """Admins change admins' and members' roles; only owners touch owners; the last owner
    is never demoted. The new role applies at once in every API process."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        credentials: CredentialInvalidation,
    ) -> None:
        self._uow, self._clock, self._ids, self._credentials = uow, clock, ids, credentials

    async def execute(self, cmd: ChangeRoleCommand) -> Member:
        async with self._uow() as uow:
            p, member = await _locked_member(uow, cmd.principal, cmd.user_id)
            p.require_manage(member.role, cmd.role)
            if member.role is Role.OWNER and cmd.role is not Role.OWNER:
                await _keep_an_owner(uow, p.workspace_id, "demoted")
            changed = member.role is not cmd.role
            if changed:
                old, member.role = member.role, cmd.role
                await uow.members.save(member)
                await uow.outbox.add(
                    [_event(MemberRoleChanged, self._ids, self._clock, p, member, old)]
                )
            await uow.commit()
        if changed:
            await self._credentials.invalidate(CredentialChange(p.workspace_id, member.user_id))
        return member


@dataclass(frozen=True, slots=True)
class RemoveMemberCommand:
    principal: Principal
    user_id: UUID


class RemoveMember:
    """Admins remove admins and members, owners remove anyone, anyone may leave; the last
    owner never goes. The removed member is refused at once by every API process."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        credentials: CredentialInvalidation,
    ) -> None:
        self._uow, self._clock, self._ids, self._credentials = uow, clock, ids, credentials

    async def execute(self, cmd: RemoveMemberCommand) -> None:
        async with self._uow() as uow:
            p, member = await _locked_member(uow, cmd.principal, cmd.user_id)
            leaving = p.is_person and p.actor_id == cmd.user_id
            if not leaving:
                p.require_manage(member.role)
            if member.role is Role.OWNER:
                await _keep_an_owner(uow, p.workspace_id, "removed")
            await uow.members.remove(member)
            await uow.outbox.add(
                [_event(MemberRemoved, self._ids, self._clock, p, member, member.role)]
            )
            await uow.commit()
        await self._credentials.invalidate(CredentialChange(p.workspace_id, member.user_id))


async def _locked_member(
    uow: UnitOfWork, principal: Principal, user_id: UUID
) -> tuple[Principal, Member]:
    """The acting principal as it is now, and the member it acts on.

    Membership changes in one workspace take turns, so two owners demoting each other at once
    cannot leave it with none; and a person acts with the role they hold under that lock, not
    the one their (cached) sign-in saw: someone demoted a moment ago no longer manages anyone.
    """
    workspace_id = principal.workspace_id
    if await uow.workspaces.lock(workspace_id) is None:
        raise WorkspaceNotFound(f"No workspace {workspace_id}.")
    if principal.is_person:
        acting = await uow.members.get(workspace_id, principal.actor_id)
        if acting is None:
            raise WorkspaceNotFound(f"No workspace {workspace_id}.")
        principal = acting.principal()
    member = await uow.members.get(workspace_id, user_id)
    if member is None:
        raise MemberNotFound(f"No member {user_id} in this workspace.")
    return principal, member


async def _keep_an_owner(uow: UnitOfWork, workspace_id: UUID, verb: str) -> None:
    if await uow.members.count_owners(workspace_id) <= 1:
        raise LastOwner(f"The last owner cannot be {verb}; make another member an owner first.")


def _event(
    kind: type[MemberRoleChanged] | type[MemberRemoved],
    ids: IdGenerator,
    clock: Clock,
    p: Principal,
    member: Member,
    old: Role,
) -> MemberRoleChanged | MemberRemoved:
    return kind(
        id=ids.new_id(),
        workspace_id=p.workspace_id,
        aggregate_id=member.user_id,
        occurred_at=clock.now(),
        actor_id=p.actor_id,
        # A role change records `changes` like every update (old and new); a removal, the role
        # the member had.
        payload=(
            {"changes": {"role": {"old": old.value, "new": member.role.value}}}
            if kind is MemberRoleChanged
            else {"role": old.value}
        ),
    )


class GetMember:
    """One member of the workspace with their profile."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, user_id: UUID) -> MemberView:
        principal.require(Action.READ_MEMBERS)
        async with self._uow() as uow:
            member = await uow.members.get(principal.workspace_id, user_id)
            user = None if member is None else await uow.users.get(user_id)
        if member is None or user is None:
            raise MemberNotFound(f"No member {user_id} in this workspace.")
        return MemberView(member, user.email, user.display_name, user.picture_url)
