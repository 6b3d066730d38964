from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from crm.domain.errors import DeliveryRejected, PortError, WorkspaceNotFound
from crm.domain.model.events import InvitationCreated, MemberJoined
from crm.domain.model.invitation import (
    INVITATION_TTL,
    AlreadyMember,
    Invitation,
    InvitationNotFound,
    InvitationTokens,
)
from crm.domain.model.permissions import Action, Person, Principal, Role
from crm.domain.model.workspace import Member, Membership
from crm.domain.pagination import Page, PageRequest
from crm.ports.mailer import EmailMessage, Mailer
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("crm.invitations")


@dataclass(frozen=True, slots=True)
class InvitationDelivery:
    """How invitation emails are written: the link template holds `{token}`."""

    accept_url: str
    product_name: str = "CRM"


@dataclass(frozen=True, slots=True)
class InviteCommand:
    principal: Principal
    email: str
    role: Role


@dataclass(frozen=True, slots=True)
class _From:
    """Who the email says invites: the workspace by name, and the person if one did."""

    workspace: str
    inviter: str | None

    @classmethod
    async def of(cls, uow: UnitOfWork, p: Principal) -> _From:
        workspace = await uow.workspaces.get(p.workspace_id)
        user = await uow.users.get(p.actor_id) if p.is_person else None
        inviter = None if user is None else (user.display_name or user.email)
        return cls("a workspace" if workspace is None else workspace.name, inviter)


class _Sender:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        tokens: InvitationTokens,
        mailer: Mailer,
        delivery: InvitationDelivery,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._tokens, self._mailer, self._delivery = tokens, mailer, delivery

    async def _send(self, invitation: Invitation, token: str, sender: _From) -> Invitation:
        """Send after the invitation is committed; a failed send is recorded, not raised, so
        the invitation is never lost and can be resent."""
        link = self._delivery.accept_url.replace("{token}", token)
        by = f"{sender.inviter} has" if sender.inviter else "You have been"
        message = EmailMessage(
            to=invitation.email,
            subject=f"Join {sender.workspace} on {self._delivery.product_name}",
            text=f"{by} invited you to join {sender.workspace} on "
            f"{self._delivery.product_name} as {invitation.role.value}.\n\n"
            f"Accept the invitation: {link}\n\nThe link works once, for {invitation.email}, "
            f"until {invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
            tags=("invitation",),
        )
        error = None
        try:
            await self._mailer.send(message)
        except DeliveryRejected as e:
            error = f"rejected: {e}"
        except PortError as e:
            error = f"unavailable: {e}"
            log.warning("invitation %s not sent: %s", invitation.id, e)
        async with self._uow() as uow:
            stored = await uow.invitations.get(invitation.workspace_id, invitation.id)
            if stored is None:
                return invitation
            stored.record_delivery(self._clock.now(), error)
            await uow.invitations.save(stored)
            await uow.commit()
        return stored


class InviteMember(_Sender):
    """Invite someone by email with a role; the signed link is emailed after the invitation
    is saved, and a failed send leaves it pending for a resend."""

    async def execute(self, cmd: InviteCommand) -> Invitation:
        p = cmd.principal
        p.require(Action.INVITE_MEMBERS)
        if cmd.role is Role.OWNER:
            p.require_manage(Role.MEMBER, Role.OWNER)
        now, invitation_id = self._clock.now(), self._ids.new_id()
        token, nonce_hash = self._tokens.mint(invitation_id)
        invitation = Invitation(
            id=invitation_id,
            workspace_id=p.workspace_id,
            email=Invitation.normalize_email(cmd.email),
            role=cmd.role,
            invited_by=p.actor_id,
            nonce_hash=nonce_hash,
            created_at=now,
            expires_at=now + INVITATION_TTL,
        )
        event = InvitationCreated(
            id=self._ids.new_id(),
            workspace_id=p.workspace_id,
            aggregate_id=invitation.id,
            occurred_at=now,
            actor_id=p.actor_id,
            payload={"email": invitation.email, "role": invitation.role.value},
        )
        async with self._uow() as uow:
            sender = await _From.of(uow, p)
            await uow.invitations.add(invitation)
            await uow.outbox.add([event])
            await uow.commit()
        return await self._send(invitation, token, sender)


@dataclass(frozen=True, slots=True)
class InvitationCommand:
    principal: Principal
    invitation_id: UUID


class ResendInvitation(_Sender):
    """Send a pending (or expired) invitation again with a fresh link and expiry; the
    previous link stops working."""

    async def execute(self, cmd: InvitationCommand) -> Invitation:
        cmd.principal.require(Action.INVITE_MEMBERS)
        token, nonce_hash = self._tokens.mint(cmd.invitation_id)
        async with self._uow() as uow:
            invitation = await _invitation(uow, cmd)
            invitation.renew(nonce_hash, self._clock.now())
            sender = await _From.of(uow, cmd.principal)
            await uow.invitations.save(invitation)
            await uow.commit()
        return await self._send(invitation, token, sender)


class RevokeInvitation:
    """Withdraw a pending invitation; its link stops working."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, cmd: InvitationCommand) -> None:
        cmd.principal.require(Action.INVITE_MEMBERS)
        async with self._uow() as uow:
            invitation = await _invitation(uow, cmd)
            invitation.revoke(self._clock.now())
            await uow.invitations.save(invitation)
            await uow.commit()


class ListInvitations:
    """The workspace's invitations, oldest first, whatever their status."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, principal: Principal, page: PageRequest) -> Page[Invitation]:
        principal.require(Action.INVITE_MEMBERS)
        async with self._uow() as uow:
            return await uow.invitations.list(principal.workspace_id, page)


class AcceptInvitation:
    """Join the workspace an invitation names, with its role; you must be signed in with the
    verified email it was sent to. A link works once."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, tokens: InvitationTokens
    ) -> None:
        self._uow, self._clock, self._ids, self._tokens = uow, clock, ids, tokens

    async def execute(self, person: Person, token: str) -> Membership:
        read = self._tokens.read(token)
        now = self._clock.now()
        async with self._uow() as uow:
            invitation = await uow.invitations.find(read.invitation_id)
            if invitation is None or not self._tokens.matches(invitation, read):
                raise InvitationNotFound("The invitation link is not valid (or was replaced).")
            workspace = await uow.workspaces.lock(invitation.workspace_id)
            if workspace is None:
                raise WorkspaceNotFound("The workspace no longer exists.")
            invitation.accept(person.user_id, person.email, person.email_verified, now)
            if await uow.members.get(workspace.id, person.user_id) is not None:
                raise AlreadyMember("You are already a member of this workspace.")
            member = Member(workspace.id, person.user_id, invitation.role, now)
            await uow.members.add(member)
            await uow.invitations.save(invitation)
            await uow.outbox.add([self._joined(member)])
            await uow.commit()
        return Membership(workspace, member.role, member.created_at)

    def _joined(self, member: Member) -> MemberJoined:
        return MemberJoined(
            id=self._ids.new_id(),
            workspace_id=member.workspace_id,
            aggregate_id=member.user_id,
            occurred_at=member.created_at,
            actor_id=member.user_id,
            payload={"role": member.role.value},
        )


async def _invitation(uow: UnitOfWork, cmd: InvitationCommand) -> Invitation:
    invitation = await uow.invitations.get(cmd.principal.workspace_id, cmd.invitation_id)
    if invitation is None:
        raise InvitationNotFound(f"No invitation {cmd.invitation_id} in this workspace.")
    return invitation


class GetInvitation:
    """One invitation of the workspace, with its delivery state."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, cmd: InvitationCommand) -> Invitation:
        cmd.principal.require(Action.INVITE_MEMBERS)
        async with self._uow() as uow:
            return await _invitation(uow, cmd)
