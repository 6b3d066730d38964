"""People in API tests: Firebase sign-in through the real SDK in emulator mode, against one
Auth emulator stub shared by the whole test process, and joining workspaces as users do."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from crm.adapters.memory.mailer import InMemoryMailer
from tests.support.firebase import AuthEmulatorStub, mint_id_token

PROJECT_ID = "crm-test"
_stub: AuthEmulatorStub | None = None
_lock = threading.Lock()
_TOKEN = re.compile(r"token=(inv_[A-Za-z0-9_\-.]+)")


def auth_emulator() -> AuthEmulatorStub:
    """The process-wide emulator stub, started on first use."""
    global _stub
    with _lock:
        if _stub is None:
            _stub = AuthEmulatorStub(PROJECT_ID).start()
        return _stub


def sign_in(
    email: str | None = None,
    *,
    uid: str | None = None,
    verified: bool = True,
    name: str | None = None,
    expires_in: timedelta = timedelta(hours=1),
) -> dict[str, str]:
    """Authorization headers of a person signed in with Firebase (a new one unless `uid`)."""
    uid = uid or f"uid-{uuid.uuid4().hex[:12]}"
    stub = auth_emulator()
    if not stub.has_user(uid):
        stub.add_user(uid, email=email, email_verified=verified, name=name)
    now = datetime.now(UTC)
    token = mint_id_token(
        PROJECT_ID,
        uid,
        email=email,
        email_verified=verified,
        name=name,
        issued_at=now - timedelta(seconds=5),
        expires_at=now + expires_in,
    )
    return {"Authorization": f"Bearer {token}"}


def in_workspace(headers: dict[str, str], workspace_id: str) -> dict[str, str]:
    return {**headers, "X-Workspace-ID": workspace_id}


async def owner_of(client: httpx.AsyncClient, name: str = "Acme") -> tuple[dict[str, str], str]:
    """A new person, the owner of a new workspace: their headers (workspace named) and its id."""
    person = sign_in(f"owner-{uuid.uuid4().hex[:8]}@example.com", name="Olive Owner")
    created = await client.post("/v1/workspaces", json={"name": name}, headers=person)
    assert created.status_code == 201, created.text
    workspace_id = created.json()["id"]
    return in_workspace(person, workspace_id), workspace_id


def invitation_token(text: str) -> str:
    found = _TOKEN.search(text)
    assert found is not None, text
    return found.group(1)


async def join(
    client: httpx.AsyncClient,
    inviter: dict[str, str],
    mailer: InMemoryMailer,
    role: str = "member",
    email: str | None = None,
) -> tuple[dict[str, str], str]:
    """Invite a new person with `role`, read the emailed link and accept it as that person.
    Their headers (workspace named) and user id."""
    email = email or f"person-{uuid.uuid4().hex[:8]}@example.com"
    invited = await client.post(
        "/v1/invitations", json={"email": email, "role": role}, headers=inviter
    )
    assert invited.status_code == 201, invited.text
    person = sign_in(email, name="Pat Person")
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": invitation_token(mailer.sent[-1].text)},
        headers=person,
    )
    assert accepted.status_code == 200, accepted.text
    workspace_id = inviter["X-Workspace-ID"]
    me = await client.get("/v1/members", headers=in_workspace(person, workspace_id))
    user_id = next(m["user_id"] for m in me.json()["data"] if m["email"] == email)
    return in_workspace(person, workspace_id), user_id
