"""Sign-in, workspaces, members, invitations and API keys on the memory adapters."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.credentials import InMemoryCredentialInvalidation
from crm.adapters.memory.identity import InMemoryIdentityVerifier
from crm.adapters.memory.mailer import InMemoryMailer
from crm.adapters.memory.readers import InMemoryApiKeyReader
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import (
    ApiKeyExpired,
    InvalidInput,
    LastOwner,
    ServiceUnavailable,
    WorkspaceNotFound,
)
from crm.domain.model.identity import TokenExpired, VerifiedIdentity
from crm.domain.model.invitation import (
    AlreadyMember,
    InvitationEmailMismatch,
    InvitationExists,
    InvitationNotFound,
    InvitationNotPending,
    InvitationTokens,
)
from crm.domain.model.permissions import Person, Principal, Role, RoleForbids, Scope
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.pagination import PageRequest, SortOrder
from crm.domain.use_cases import invitations as inv
from crm.domain.use_cases import manage_api_keys as keys
from crm.domain.use_cases import members as mem
from crm.domain.use_cases.authenticate import Authenticate
from crm.domain.use_cases.create_workspace import CreateWorkspace, CreateWorkspaceCommand
from crm.domain.use_cases.workspaces import ListMyWorkspaces

PAGE = PageRequest(50, None, SortOrder.OLDEST_FIRST)


class World:
    def __init__(self) -> None:
        self.store, self.clock, ids = MemoryStore(), ManualClock(), Uuid7Generator()
        self.identity, self.mailer = InMemoryIdentityVerifier(self.clock), InMemoryMailer()
        self.credentials = InMemoryCredentialInvalidation()
        secrets, tokens = ApiKeySecrets(b"k"), InvitationTokens(b"k")
        uow = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        delivery = inv.InvitationDelivery("https://app.example/join?token={token}")
        sender = (uow, self.clock, ids, tokens, self.mailer, delivery)
        self.authenticate = Authenticate(
            InMemoryApiKeyReader(self.store), secrets, self.identity, uow, self.clock, ids
        )
        self.create_workspace = CreateWorkspace(uow, self.clock, ids, secrets)
        self.my_workspaces = ListMyWorkspaces(uow)
        self.change_role = mem.ChangeMemberRole(uow, self.clock, ids, self.credentials)
        self.remove = mem.RemoveMember(uow, self.clock, ids, self.credentials)
        self.invite, self.resend = inv.InviteMember(*sender), inv.ResendInvitation(*sender)
        self.revoke_invitation = inv.RevokeInvitation(uow, self.clock)
        self.accept = inv.AcceptInvitation(uow, self.clock, ids, tokens)
        self.create_key = keys.CreateApiKey(uow, self.clock, ids, secrets)

    async def sign_in(self, email: str, workspace: UUID | None = None) -> tuple[Person, str]:
        token = self.identity.issue(VerifiedIdentity(f"uid-{email}", email, True, "P", None))
        caller = await self.authenticate.execute(
            token, None if workspace is None else str(workspace)
        )
        assert caller.person is not None
        return caller.person, token

    async def as_member(self, token: str, workspace: UUID) -> Principal:
        principal = (await self.authenticate.execute(token, str(workspace))).principal
        assert principal is not None
        return principal

    async def owned_workspace(self) -> tuple[Principal, UUID]:
        owner, token = await self.sign_in(f"owner-{uuid4().hex[:6]}@x.io")
        created = await self.create_workspace.execute(
            CreateWorkspaceCommand("Acme", key_name=None, owner_id=owner.user_id)
        )
        return await self.as_member(token, created.workspace.id), created.workspace.id

    def link_token(self) -> str:
        found = re.search(r"token=(\S+)", self.mailer.sent[-1].text)
        assert found is not None
        return found.group(1)

    async def join(self, admin: Principal, email: str, role: Role) -> Principal:
        await self.invite.execute(inv.InviteCommand(admin, email, role))
        person, token = await self.sign_in(email)
        await self.accept.execute(person, self.link_token())
        return await self.as_member(token, admin.workspace_id)


@pytest.fixture
def world() -> World:
    return World()


async def test_first_sign_in_creates_the_user_and_later_ones_refresh_it(world: World) -> None:
    token = world.identity.issue(VerifiedIdentity("uid-1", "ada@x.io", True, "Ada", "https://p/1"))
    first = await world.authenticate.execute(token)
    assert first.principal is None
    assert first.person is not None
    user = world.store.state.users[first.person.user_id]
    assert (user.firebase_uid, user.email, user.display_name, user.picture_url) == (
        "uid-1",
        "ada@x.io",
        "Ada",
        "https://p/1",
    )
    renamed = world.identity.issue(VerifiedIdentity("uid-1", "ada@x.io", True, "Ada L.", None))
    again = await world.authenticate.execute(renamed)
    assert again.person == first.person
    assert len(world.store.state.users) == 1
    assert world.store.state.users[first.person.user_id].display_name == "Ada L."


async def test_an_expired_token_is_refused(world: World) -> None:
    token = world.identity.issue(VerifiedIdentity("u", None, False, None, None))
    world.clock.advance(hours=2)
    with pytest.raises(TokenExpired):
        await world.authenticate.execute(token)


async def test_a_workspace_you_do_not_belong_to_is_not_found(world: World) -> None:
    _, workspace = await world.owned_workspace()
    _, stranger = await world.sign_in("eve@x.io")
    with pytest.raises(WorkspaceNotFound):
        await world.as_member(stranger, workspace)
    with pytest.raises(InvalidInput) as bad:
        await world.authenticate.execute(stranger, "not-a-uuid")
    assert bad.value.code == "validation_failed"


async def test_the_creator_owns_the_workspace_and_sees_it(world: World) -> None:
    owner, workspace = await world.owned_workspace()
    assert owner.role is Role.OWNER
    page = await world.my_workspaces.execute(owner.actor_id, PAGE)
    assert [(m.workspace.id, m.role) for m in page.items] == [(workspace, Role.OWNER)]


async def test_the_last_owner_is_never_removed_or_demoted(world: World) -> None:
    owner, _ = await world.owned_workspace()
    with pytest.raises(LastOwner):
        await world.change_role.execute(mem.ChangeRoleCommand(owner, owner.actor_id, Role.ADMIN))
    with pytest.raises(LastOwner):
        await world.remove.execute(mem.RemoveMemberCommand(owner, owner.actor_id))
    second = await world.join(owner, "co@x.io", Role.OWNER)
    await world.change_role.execute(mem.ChangeRoleCommand(second, owner.actor_id, Role.ADMIN))
    with pytest.raises(LastOwner):
        await world.remove.execute(mem.RemoveMemberCommand(second, second.actor_id))


async def test_admins_cannot_touch_owners_and_members_cannot_manage(world: World) -> None:
    owner, _ = await world.owned_workspace()
    admin = await world.join(owner, "admin@x.io", Role.ADMIN)
    member = await world.join(owner, "member@x.io", Role.MEMBER)
    with pytest.raises(RoleForbids):
        await world.change_role.execute(mem.ChangeRoleCommand(admin, owner.actor_id, Role.MEMBER))
    with pytest.raises(RoleForbids):
        await world.remove.execute(mem.RemoveMemberCommand(admin, owner.actor_id))
    with pytest.raises(RoleForbids):
        await world.change_role.execute(mem.ChangeRoleCommand(member, admin.actor_id, Role.MEMBER))
    await world.change_role.execute(mem.ChangeRoleCommand(admin, member.actor_id, Role.ADMIN))
    await world.remove.execute(mem.RemoveMemberCommand(member, member.actor_id))  # leaving
    assert (owner.workspace_id, member.actor_id) not in world.store.state.members


async def test_member_changes_use_the_role_held_now_not_the_one_signed_in_with(
    world: World,
) -> None:
    owner, _ = await world.owned_workspace()
    admin = await world.join(owner, "admin@x.io", Role.ADMIN)
    member = await world.join(owner, "member@x.io", Role.MEMBER)
    await world.change_role.execute(mem.ChangeRoleCommand(owner, admin.actor_id, Role.MEMBER))
    with pytest.raises(RoleForbids):  # `admin` still says admin, as a cached sign-in would
        await world.change_role.execute(mem.ChangeRoleCommand(admin, member.actor_id, Role.ADMIN))
    await world.remove.execute(mem.RemoveMemberCommand(owner, admin.actor_id))
    with pytest.raises(WorkspaceNotFound):
        await world.remove.execute(mem.RemoveMemberCommand(admin, member.actor_id))
    assert world.store.state.members[(owner.workspace_id, member.actor_id)].role is Role.MEMBER


async def test_an_invitation_link_works_once_for_the_invited_email(world: World) -> None:
    owner, workspace = await world.owned_workspace()
    invitation = await world.invite.execute(inv.InviteCommand(owner, " Grace@X.io ", Role.ADMIN))
    assert invitation.email == "grace@x.io"
    assert invitation.sent_at is not None
    link = world.link_token()
    eve, _ = await world.sign_in("eve@x.io")
    with pytest.raises(InvitationEmailMismatch):
        await world.accept.execute(eve, link)
    grace, _ = await world.sign_in("grace@x.io")
    joined = await world.accept.execute(grace, link)
    assert (joined.workspace.id, joined.role) == (workspace, Role.ADMIN)
    with pytest.raises(InvitationNotPending):
        await world.accept.execute(grace, link)


async def test_an_unverified_email_cannot_accept(world: World) -> None:
    owner, _ = await world.owned_workspace()
    await world.invite.execute(inv.InviteCommand(owner, "ann@x.io", Role.MEMBER))
    token = world.identity.issue(VerifiedIdentity("uid-ann", "ann@x.io", False, None, None))
    caller = await world.authenticate.execute(token)
    assert caller.person is not None
    with pytest.raises(InvitationEmailMismatch):
        await world.accept.execute(caller.person, world.link_token())


async def test_tampered_expired_and_replaced_links_fail(world: World) -> None:
    owner, _ = await world.owned_workspace()
    invitation = await world.invite.execute(inv.InviteCommand(owner, "bo@x.io", Role.MEMBER))
    first = world.link_token()
    bo, _ = await world.sign_in("bo@x.io")
    with pytest.raises(InvitationNotFound):
        await world.accept.execute(bo, first[:-2] + ("AA" if first[-2:] != "AA" else "BB"))
    world.clock.advance(days=8)
    with pytest.raises(InvitationNotPending, match="expired"):
        await world.accept.execute(bo, first)
    renewed = await world.resend.execute(inv.InvitationCommand(owner, invitation.id))
    assert renewed.expires_at == world.clock.now() + timedelta(days=7)
    with pytest.raises(InvitationNotFound):
        await world.accept.execute(bo, first)
    await world.accept.execute(bo, world.link_token())


async def test_a_failed_send_keeps_the_invitation_for_a_resend(world: World) -> None:
    owner, _ = await world.owned_workspace()
    world.mailer.fail_next(ServiceUnavailable("mail provider down"))
    invitation = await world.invite.execute(inv.InviteCommand(owner, "cy@x.io", Role.MEMBER))
    assert (invitation.sent_at, invitation.send_attempts) == (None, 1)
    assert invitation.last_send_error is not None
    assert "down" in invitation.last_send_error
    assert world.mailer.sent == []
    assert [e.topic for e in world.store.state.outbox][-1] == "invitation.created"
    resent = await world.resend.execute(inv.InvitationCommand(owner, invitation.id))
    assert (resent.send_attempts, resent.last_send_error) == (2, None)
    assert resent.sent_at is not None


async def test_one_open_invitation_per_address_and_no_double_membership(world: World) -> None:
    owner, _ = await world.owned_workspace()
    invitation = await world.invite.execute(inv.InviteCommand(owner, "di@x.io", Role.MEMBER))
    with pytest.raises(InvitationExists):
        await world.invite.execute(inv.InviteCommand(owner, "di@x.io", Role.ADMIN))
    await world.revoke_invitation.execute(inv.InvitationCommand(owner, invitation.id))
    await world.join(owner, "di@x.io", Role.MEMBER)
    await world.invite.execute(inv.InviteCommand(owner, "di@x.io", Role.ADMIN))
    di, _ = await world.sign_in("di@x.io")
    with pytest.raises(AlreadyMember):
        await world.accept.execute(di, world.link_token())


async def test_members_cannot_invite_and_admins_cannot_invite_owners(world: World) -> None:
    owner, _ = await world.owned_workspace()
    admin = await world.join(owner, "ad@x.io", Role.ADMIN)
    member = await world.join(owner, "me@x.io", Role.MEMBER)
    with pytest.raises(RoleForbids):
        await world.invite.execute(inv.InviteCommand(member, "x@x.io", Role.MEMBER))
    with pytest.raises(RoleForbids):
        await world.invite.execute(inv.InviteCommand(admin, "x@x.io", Role.OWNER))


async def test_api_keys_carry_scopes_and_expire(world: World) -> None:
    owner, workspace = await world.owned_workspace()
    expires = world.clock.now() + timedelta(days=1)
    cmd = keys.CreateApiKeyCommand(
        workspace, "sync", frozenset({Scope.CONTACTS_READ}), expires, principal=owner
    )
    key, secret = await world.create_key.execute(cmd)
    caller = await world.authenticate.execute(secret)
    assert caller.principal is not None
    assert caller.principal.scopes == {Scope.CONTACTS_READ}
    assert world.store.state.api_keys[key.id].last_used_at == world.clock.now()
    world.clock.advance(days=2)
    with pytest.raises(ApiKeyExpired):
        await world.authenticate.execute(secret)
    past = keys.CreateApiKeyCommand(workspace, "old", frozenset({Scope.ADMIN}), world.clock.now())
    with pytest.raises(InvalidInput):
        await world.create_key.execute(past)
    member = await world.join(owner, "m@x.io", Role.MEMBER)
    with pytest.raises(RoleForbids):
        await world.create_key.execute(
            keys.CreateApiKeyCommand(workspace, "mine", frozenset({Scope.ADMIN}), principal=member)
        )
