"""Workspaces, people, memberships, API keys and invitations over `MemoryState`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from crm.adapters.memory.state import MemoryState
from crm.domain.errors import AlreadyExists
from crm.domain.model.invitation import Invitation, InvitationExists
from crm.domain.model.permissions import Role
from crm.domain.model.workspace import ApiKey, Member, Membership, MemberView, User, Workspace
from crm.domain.pagination import Page, PageRequest, Position

T = TypeVar("T")


def _page(
    items: Iterable[T], key: Callable[[T], tuple[datetime, UUID]], page: PageRequest
) -> Page[T]:
    """Oldest first, keyset on (created_at, id), like the SQL adapters."""
    rows = sorted(items, key=key)
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        rows = [r for r in rows if key(r) > after]
    chosen = [copy.copy(r) for r in rows[: page.limit]]
    more = len(rows) > page.limit
    return Page(chosen, Position(*key(chosen[-1])) if more else None)


class _Repository:
    def __init__(self, state: MemoryState) -> None:
        self._s = state


class InMemoryWorkspaceRepository(_Repository):
    async def add(self, workspace: Workspace) -> None:
        self._s.workspaces[workspace.id] = copy.copy(workspace)

    async def get(self, workspace_id: UUID) -> Workspace | None:
        return copy.copy(self._s.workspaces.get(workspace_id))

    async def lock(self, workspace_id: UUID) -> Workspace | None:
        # A memory unit of work already holds the store's only lock.
        return await self.get(workspace_id)


class InMemoryUserRepository(_Repository):
    async def add(self, user: User) -> None:
        if user.firebase_uid is not None and await self.get_by_uid(user.firebase_uid):
            raise AlreadyExists(f"A user with uid {user.firebase_uid} exists.")
        self._s.users[user.id] = copy.copy(user)

    async def get(self, user_id: UUID) -> User | None:
        return copy.copy(self._s.users.get(user_id))

    async def get_by_uid(self, firebase_uid: str) -> User | None:
        found = (u for u in self._s.users.values() if u.firebase_uid == firebase_uid)
        return copy.copy(next(found, None))

    async def save(self, user: User) -> None:
        self._s.users[user.id] = copy.copy(user)


class InMemoryMemberRepository(_Repository):
    async def add(self, member: Member) -> None:
        self._s.members[(member.workspace_id, member.user_id)] = copy.copy(member)

    async def get(self, workspace_id: UUID, user_id: UUID) -> Member | None:
        return copy.copy(self._s.members.get((workspace_id, user_id)))

    async def save(self, member: Member) -> None:
        self._s.members[(member.workspace_id, member.user_id)] = copy.copy(member)

    async def remove(self, member: Member) -> None:
        self._s.members.pop((member.workspace_id, member.user_id), None)

    async def count_owners(self, workspace_id: UUID) -> int:
        members = self._s.members.values()
        return sum(m.workspace_id == workspace_id and m.role is Role.OWNER for m in members)

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[MemberView]:
        views = []
        for m in self._s.members.values():
            if m.workspace_id == workspace_id:
                u = self._s.users[m.user_id]
                views.append(MemberView(copy.copy(m), u.email, u.display_name, u.picture_url))
        return _page(views, lambda v: (v.member.created_at, v.member.user_id), page)

    async def list_for_user(self, user_id: UUID, page: PageRequest) -> Page[Membership]:
        found = [
            Membership(copy.copy(self._s.workspaces[m.workspace_id]), m.role, m.created_at)
            for m in self._s.members.values()
            if m.user_id == user_id
        ]
        return _page(found, lambda m: (m.joined_at, m.workspace.id), page)


class InMemoryApiKeyRepository(_Repository):
    async def add(self, key: ApiKey) -> None:
        self._s.api_keys[key.id] = copy.copy(key)

    async def get(self, workspace_id: UUID, key_id: UUID) -> ApiKey | None:
        key = self._s.api_keys.get(key_id)
        return copy.copy(key) if key and key.workspace_id == workspace_id else None

    async def save(self, key: ApiKey) -> None:
        self._s.api_keys[key.id] = copy.copy(key)

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[ApiKey]:
        keys = [k for k in self._s.api_keys.values() if k.workspace_id == workspace_id]
        return _page(keys, lambda k: (k.created_at, k.id), page)


class InMemoryInvitationRepository(_Repository):
    async def add(self, invitation: Invitation) -> None:
        for other in self._s.invitations.values():
            same = (other.workspace_id, other.email) == (invitation.workspace_id, invitation.email)
            if same and other.accepted_at is None and other.revoked_at is None:
                raise InvitationExists.to(invitation.email)
        self._s.invitations[invitation.id] = copy.copy(invitation)

    async def get(self, workspace_id: UUID, invitation_id: UUID) -> Invitation | None:
        found = self._s.invitations.get(invitation_id)
        return copy.copy(found) if found and found.workspace_id == workspace_id else None

    async def find(self, invitation_id: UUID) -> Invitation | None:
        return copy.copy(self._s.invitations.get(invitation_id))

    async def save(self, invitation: Invitation) -> None:
        self._s.invitations[invitation.id] = copy.copy(invitation)

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Invitation]:
        found = [i for i in self._s.invitations.values() if i.workspace_id == workspace_id]
        return _page(found, lambda i: (i.created_at, i.id), page)
