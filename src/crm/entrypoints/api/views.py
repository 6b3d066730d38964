"""Workspaces, members, invitations and API keys as JSON, serialized once (like serialize.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson
from starlette.responses import Response

from crm.domain.model.invitation import Invitation
from crm.domain.model.workspace import ApiKey, Membership, MemberView
from crm.domain.pagination import Page, SortOrder, encode_cursor

T = TypeVar("T")
_OPTIONS = orjson.OPT_UTC_Z


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        # `default=str`: asyncpg hands out its own UUID type, which orjson does not know.
        orjson.dumps(body, option=_OPTIONS, default=str),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def versioned_response(
    body: Any, version: int, status: int = 200, location: str | None = None
) -> Response:
    """One versioned object: its version as the ETag, and `Location` when it was created."""
    headers = {"ETag": f'"{version}"'}
    if location is not None:
        headers["Location"] = location
    return json_response(body, status, headers)


def page_of(
    page: Page[T],
    item: Callable[[T], dict[str, Any]],
    order: SortOrder = SortOrder.OLDEST_FIRST,
) -> Response:
    """A page of a list (oldest first unless `order` says otherwise); the cursor is the last
    row's position."""
    cursor = None if page.next is None else encode_cursor(page.next, order)
    return json_response({"data": [item(i) for i in page.items], "next_cursor": cursor})


def workspace_dict(m: Membership) -> dict[str, Any]:
    return {
        "id": m.workspace.id,
        "name": m.workspace.name,
        "created_at": m.workspace.created_at,
        "role": m.role,
        "joined_at": m.joined_at,
    }


def member_dict(v: MemberView) -> dict[str, Any]:
    return {
        "user_id": v.member.user_id,
        "email": v.email,
        "display_name": v.display_name,
        "picture_url": v.picture_url,
        "role": v.member.role,
        "joined_at": v.member.created_at,
    }


def invitation_dict(i: Invitation, now: datetime) -> dict[str, Any]:
    return {
        "id": i.id,
        "email": i.email,
        "role": i.role,
        "status": i.status(now),
        "invited_by": i.invited_by,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "sent_at": i.sent_at,
        "send_attempts": i.send_attempts,
        "last_send_error": i.last_send_error,
        "accepted_at": i.accepted_at,
        "accepted_by": i.accepted_by,
    }


def api_key_dict(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "scopes": sorted(k.scopes),
        "created_at": k.created_at,
        "created_by": k.created_by,
        "expires_at": k.expires_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    }
