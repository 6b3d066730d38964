"""Workspaces, people, memberships, API keys and invitations on one SQLAlchemy connection."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.mapping import (
    api_key_to_domain,
    api_key_to_row,
    invitation_to_domain,
    invitation_to_row,
    user_to_domain,
    user_to_row,
)
from crm.domain.errors import AlreadyExists
from crm.domain.model.invitation import Invitation, InvitationExists
from crm.domain.model.permissions import Role
from crm.domain.model.workspace import ApiKey, Member, Membership, MemberView, User, Workspace
from crm.domain.pagination import Page, PageRequest, Position

_w, _u, _m, _k, _i = t.workspace.c, t.user_account.c, t.member.c, t.api_key.c, t.invitation.c


class _Repository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _page(self, query: Select[Any], created_at: Any, id_: Any, page: PageRequest) -> Any:
        """Oldest first, keyset on (created_at, id)."""
        if page.after is not None:
            query = query.where(tuple_(created_at, id_) > (page.after.created_at, page.after.id))
        query = query.order_by(created_at, id_).limit(page.limit + 1)
        return (await self._conn.execute(query)).mappings().all()


def _paged(rows: Any, limit: int, item: Any, key: Any) -> Page[Any]:
    items = [item(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, Position(*key(rows[limit - 1])) if more else None)


def _workspace(row: Any) -> Workspace:
    return Workspace(row["id"], row["name"], row["created_at"])


class SqlWorkspaceRepository(_Repository):
    async def add(self, workspace: Workspace) -> None:
        values = {"id": workspace.id, "name": workspace.name, "created_at": workspace.created_at}
        await self._conn.execute(insert(t.workspace).values(values))

    async def get(self, workspace_id: UUID) -> Workspace | None:
        query = select(t.workspace).where(_w.id == workspace_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return _workspace(row) if row else None

    async def lock(self, workspace_id: UUID) -> Workspace | None:
        query = select(t.workspace).where(_w.id == workspace_id).with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return _workspace(row) if row else None


class SqlUserRepository(_Repository):
    async def add(self, user: User) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(t.user_account).values(user_to_row(user)))
        except IntegrityError as e:
            raise AlreadyExists(f"A user with uid {user.firebase_uid} exists.") from e

    async def get(self, user_id: UUID) -> User | None:
        return await self._one(select(t.user_account).where(_u.id == user_id))

    async def get_by_uid(self, firebase_uid: str) -> User | None:
        return await self._one(select(t.user_account).where(_u.firebase_uid == firebase_uid))

    async def save(self, user: User) -> None:
        values = user_to_row(user)
        await self._conn.execute(update(t.user_account).where(_u.id == user.id).values(values))

    async def _one(self, query: Select[Any]) -> User | None:
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return user_to_domain(row) if row else None


def _member(row: Any) -> Member:
    return Member(row["workspace_id"], row["user_id"], Role(row["role"]), row["created_at"])


class SqlMemberRepository(_Repository):
    async def add(self, member: Member) -> None:
        values = {
            "workspace_id": member.workspace_id,
            "user_id": member.user_id,
            "role": member.role.value,
            "created_at": member.created_at,
        }
        await self._conn.execute(insert(t.member).values(values))

    async def get(self, workspace_id: UUID, user_id: UUID) -> Member | None:
        query = select(t.member).where(_m.workspace_id == workspace_id, _m.user_id == user_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return _member(row) if row else None

    async def save(self, member: Member) -> None:
        where = (_m.workspace_id == member.workspace_id, _m.user_id == member.user_id)
        await self._conn.execute(update(t.member).where(*where).values(role=member.role.value))

    async def remove(self, member: Member) -> None:
        where = (_m.workspace_id == member.workspace_id, _m.user_id == member.user_id)
        await self._conn.execute(delete(t.member).where(*where))

    async def count_owners(self, workspace_id: UUID) -> int:
        query = select(func.count()).where(
            _m.workspace_id == workspace_id, _m.role == Role.OWNER.value
        )
        return int((await self._conn.execute(query)).scalar_one())

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[MemberView]:
        query = (
            select(t.member, _u.email, _u.display_name, _u.picture_url)
            .join(t.user_account, _u.id == _m.user_id)
            .where(_m.workspace_id == workspace_id)
        )
        rows = await self._page(query, _m.created_at, _m.user_id, page)

        def view(r: Any) -> MemberView:
            return MemberView(_member(r), r["email"], r["display_name"], r["picture_url"])

        return _paged(rows, page.limit, view, lambda r: (r["created_at"], r["user_id"]))

    async def list_for_user(self, user_id: UUID, page: PageRequest) -> Page[Membership]:
        query = (
            select(t.workspace, _m.role, _m.created_at.label("joined_at"))
            .join(t.member, _m.workspace_id == _w.id)
            .where(_m.user_id == user_id)
        )
        rows = await self._page(query, _m.created_at, _w.id, page)

        def membership(r: Any) -> Membership:
            return Membership(_workspace(r), Role(r["role"]), r["joined_at"])

        return _paged(rows, page.limit, membership, lambda r: (r["joined_at"], r["id"]))


class SqlApiKeyRepository(_Repository):
    async def add(self, key: ApiKey) -> None:
        await self._conn.execute(insert(t.api_key).values(api_key_to_row(key)))

    async def get(self, workspace_id: UUID, key_id: UUID) -> ApiKey | None:
        query = select(t.api_key).where(_k.workspace_id == workspace_id, _k.id == key_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return api_key_to_domain(row) if row else None

    async def save(self, key: ApiKey) -> None:
        query = update(t.api_key).where(_k.id == key.id)
        await self._conn.execute(query.values(name=key.name, revoked_at=key.revoked_at))

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[ApiKey]:
        query = select(t.api_key).where(_k.workspace_id == workspace_id)
        rows = await self._page(query, _k.created_at, _k.id, page)
        return _paged(rows, page.limit, api_key_to_domain, lambda r: (r["created_at"], r["id"]))


class SqlInvitationRepository(_Repository):
    async def add(self, invitation: Invitation) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(t.invitation).values(invitation_to_row(invitation)))
        except IntegrityError as e:
            raise InvitationExists.to(invitation.email) from e

    async def get(self, workspace_id: UUID, invitation_id: UUID) -> Invitation | None:
        where = (_i.workspace_id == workspace_id, _i.id == invitation_id)
        return await self._one(select(t.invitation).where(*where))

    async def find(self, invitation_id: UUID) -> Invitation | None:
        return await self._one(select(t.invitation).where(_i.id == invitation_id))

    async def save(self, invitation: Invitation) -> None:
        query = update(t.invitation).where(_i.id == invitation.id)
        await self._conn.execute(query.values(invitation_to_row(invitation)))

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Invitation]:
        query = select(t.invitation).where(_i.workspace_id == workspace_id)
        rows = await self._page(query, _i.created_at, _i.id, page)
        return _paged(rows, page.limit, invitation_to_domain, lambda r: (r["created_at"], r["id"]))

    async def _one(self, query: Select[Any]) -> Invitation | None:
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return invitation_to_domain(row) if row else None
