"""Workspaces, members, invitations and API keys: request and response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.invitation import InvitationStatus
from crm.domain.model.permissions import Role, Scope
from crm.entrypoints.api.schemas.shared import Instant


def _input(example: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


_CURSOR = "Pass as `cursor` for the next page; null at the end"


class WorkspaceCreate(BaseModel):
    """A new workspace; you become its owner."""

    model_config = _input({"name": "Acme Sales"})
    name: Annotated[str, Field(min_length=1, max_length=120)]


class Workspace(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    role: Role | None = Field(description="Your role in it; null when an API key asks")
    joined_at: datetime


class WorkspacePage(BaseModel):
    data: list[Workspace]
    next_cursor: str | None = Field(description=_CURSOR)


class Member(BaseModel):
    user_id: UUID
    email: str | None
    display_name: str | None
    picture_url: str | None
    role: Role
    joined_at: datetime


class MemberPage(BaseModel):
    data: list[Member]
    next_cursor: str | None = Field(description=_CURSOR)


class MemberUpdate(BaseModel):
    """The member's new role. Only owners appoint or demote owners; the last owner stays."""

    model_config = _input({"role": "admin"})
    role: Role


class InvitationCreate(BaseModel):
    """Whom to invite and with which role; the signed link is emailed to them."""

    model_config = _input({"email": "grace@example.com", "role": "member"})
    email: Annotated[str, Field(min_length=3, max_length=254)]
    role: Role = Role.MEMBER


class Invitation(BaseModel):
    id: UUID
    email: str
    role: Role
    status: InvitationStatus
    invited_by: UUID
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None = Field(description="When the email last went out; null if never")
    send_attempts: int
    last_send_error: str | None = Field(description="Why the last send failed; resend to retry")
    accepted_at: datetime | None
    accepted_by: UUID | None


class InvitationPage(BaseModel):
    data: list[Invitation]
    next_cursor: str | None = Field(description=_CURSOR)


class InvitationAccept(BaseModel):
    """The token from the invitation link."""

    model_config = _input({"token": "inv_AZNm3x...Q.8fJk..."})
    token: Annotated[str, Field(min_length=10, max_length=200)]


class ApiKeyCreate(BaseModel):
    """A new API key. `admin` includes every other scope; keys never hold a role."""

    model_config = _input(
        {
            "name": "Zapier sync",
            "scopes": ["contacts:read", "contacts:write"],
            "expires_at": "2027-06-30T00:00:00Z",
        }
    )
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]
    expires_at: Instant | None = Field(None, description="Never expires when null")


class ApiKey(BaseModel):
    id: UUID
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise it")
    scopes: list[Scope]
    created_at: datetime
    created_by: UUID | None
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="The key itself, shown this once; only its hash is kept")


class ApiKeyPage(BaseModel):
    data: list[ApiKey]
    next_cursor: str | None = Field(description=_CURSOR)
