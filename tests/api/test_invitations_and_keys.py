"""Invitations and scoped API keys over HTTP: the emailed link, who may use it and when, a
failed send that a resend repairs; keys shown once, held to their scopes, expiry and revocation.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import pytest
import pytest_asyncio

from tests.api.test_http_problems import assert_problem
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.mandrill_stub import MandrillStub
from tests.support.people import in_workspace, invitation_token, join, owner_of, sign_in

MAIL_KEY = "md-api-test-key-51c2"


def _email(who: str = "guest") -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


async def _invite(
    client: httpx.AsyncClient, inviter: dict[str, str], email: str, role: str = "member"
) -> dict[str, object]:
    r = await client.post("/v1/invitations", json={"email": email, "role": role}, headers=inviter)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _accept(client: httpx.AsyncClient, person: dict[str, str], token: str) -> httpx.Response:
    return await client.post("/v1/invitations/accept", json={"token": token}, headers=person)


async def _new_key(
    client: httpx.AsyncClient, headers: dict[str, str], *scopes: str
) -> tuple[str, dict[str, str]]:
    """Create a key with `scopes`: its id and the headers that use it."""
    r = await client.post(
        "/v1/api-keys", json={"name": "Zapier", "scopes": list(scopes)}, headers=headers
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['secret']}"}


# Invitations


async def test_an_invited_admin_joins_with_the_emailed_link(api: Api) -> None:
    owner, workspace_id = await owner_of(api.client, "Acme Sales")
    email = _email("grace")
    invitation = await _invite(api.client, owner, email.upper(), "admin")
    assert (invitation["email"], invitation["role"], invitation["status"]) == (
        email,
        "admin",
        "pending",
    )
    assert (invitation["send_attempts"], invitation["last_send_error"]) == (1, None)
    assert invitation["sent_at"] is not None
    (mail,) = api.mailbox.sent
    token = invitation_token(mail.text)
    assert mail.to == email
    assert f"http://localhost:3000/invitations/accept?token={token}" in mail.text
    assert mail.subject == "Join Acme Sales on CRM"
    assert "Olive Owner has invited you to join Acme Sales on CRM as admin." in mail.text

    grace = sign_in(email, name="Grace Hopper")
    joined = await _accept(api.client, grace, token)
    assert joined.status_code == 200, joined.text
    assert (joined.json()["id"], joined.json()["role"]) == (workspace_id, "admin")
    members = await api.client.get("/v1/members", headers=in_workspace(grace, workspace_id))
    me = next(m for m in members.json()["data"] if m["email"] == email)
    assert me["role"] == "admin"
    done = await api.client.get(f"/v1/invitations/{invitation['id']}", headers=owner)
    assert (done.json()["status"], done.json()["accepted_by"]) == ("accepted", me["user_id"])
    # The role is real: as an admin, Grace may now invite too.
    await _invite(api.client, in_workspace(grace, workspace_id), _email())


async def test_a_link_works_once_and_only_for_its_verified_address(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    email = _email()
    invitation = await _invite(api.client, owner, email)
    token = invitation_token(api.mailbox.sent[-1].text)

    stranger = await _accept(api.client, sign_in(_email("eve")), token)
    assert_problem(stranger, 403, "invitation_email_mismatch")
    unverified = await _accept(api.client, sign_in(email, verified=False), token)
    assert_problem(unverified, 403, "invitation_email_mismatch")
    payload, signature = token.removeprefix("inv_").split(".")
    flipped = ("B" if payload[0] == "A" else "A") + payload[1:]
    tampered = await _accept(api.client, sign_in(email), f"inv_{flipped}.{signature}")
    assert_problem(tampered, 404, "invitation_not_found")
    garbage = await _accept(api.client, sign_in(email), "inv_not-a-real-token")
    assert_problem(garbage, 404, "invitation_not_found")
    still = await api.client.get(f"/v1/invitations/{invitation['id']}", headers=owner)
    assert still.json()["status"] == "pending"

    invitee = sign_in(email)
    assert (await _accept(api.client, invitee, token)).status_code == 200
    assert_problem(await _accept(api.client, invitee, token), 409, "invitation_not_pending")
    assert_problem(await _accept(api.client, sign_in(email), token), 409, "invitation_not_pending")


async def test_resend_replaces_the_link_and_revoke_withdraws_it(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, _ = await owner_of(api.client)
    email = _email()
    invitation_id = (await _invite(api.client, owner, email))["id"]
    first = invitation_token(api.mailbox.sent[-1].text)
    again = await api.client.post("/v1/invitations", json={"email": email}, headers=owner)
    assert_problem(again, 409, "invitation_exists")

    resent = await api.client.post(f"/v1/invitations/{invitation_id}/resend", headers=owner)
    assert (resent.status_code, resent.json()["send_attempts"]) == (200, 2), resent.text
    assert [m.to for m in api.mailbox.sent] == [email, email]
    second = invitation_token(api.mailbox.sent[-1].text)
    assert second != first
    assert_problem(await _accept(api.client, sign_in(email), first), 404, "invitation_not_found")

    revoked = await api.client.delete(f"/v1/invitations/{invitation_id}", headers=owner)
    assert revoked.status_code == 204, revoked.text
    assert_problem(await _accept(api.client, sign_in(email), second), 409, "invitation_not_pending")
    shown = await api.client.get(f"/v1/invitations/{invitation_id}", headers=owner)
    assert shown.json()["status"] == "revoked"
    for late in (
        await api.client.post(f"/v1/invitations/{invitation_id}/resend", headers=owner),
        await api.client.delete(f"/v1/invitations/{invitation_id}", headers=owner),
    ):
        assert_problem(late, 409, "invitation_not_pending")
    assert len(api.mailbox.sent) == 2
    assert await db.fetchval("SELECT count(*) FROM member WHERE role = 'member'") == 0
    # Once withdrawn, the address may be invited afresh.
    await _invite(api.client, owner, email)


async def test_members_cannot_invite_and_admins_cannot_invite_owners(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox, "member")
    admin, _ = await join(api.client, owner, api.mailbox, "admin")
    invitation_id = (await _invite(api.client, owner, _email()))["id"]
    sent = len(api.mailbox.sent)
    for r in (
        await api.client.post("/v1/invitations", json={"email": _email()}, headers=member),
        await api.client.get("/v1/invitations", headers=member),
        await api.client.post(f"/v1/invitations/{invitation_id}/resend", headers=member),
        await api.client.delete(f"/v1/invitations/{invitation_id}", headers=member),
        await api.client.post(
            "/v1/invitations", json={"email": _email(), "role": "owner"}, headers=admin
        ),
    ):
        assert_problem(r, 403, "role_forbidden")
    assert len(api.mailbox.sent) == sent
    await _invite(api.client, owner, _email(), "owner")


@pytest_asyncio.fixture
async def mailchimp(database_url: str, redis_url: str) -> AsyncIterator[tuple[Api, MandrillStub]]:
    """The app sending its mail through Mailchimp Transactional, here a local stub of it."""
    with MandrillStub(api_key=MAIL_KEY) as stub:
        settings = settings_for_tests(
            database_url, redis_url, mailchimp_api_key=MAIL_KEY, mailchimp_base_url=stub.url
        )
        async with running_api(settings) as api:
            yield api, stub


def _down(stub: MandrillStub, email: str) -> None:
    stub.fail_next(500, "GeneralError")


def _bounce(stub: MandrillStub, email: str) -> None:
    stub.reject(email, "hard-bounce")


@pytest.mark.parametrize(
    ("fail", "recorded"),
    [
        (_down, "unavailable: Mailchimp Transactional answered 500 GeneralError"),
        (_bounce, "rejected: Mailchimp Transactional rejected the recipient: hard-bounce"),
    ],
    ids=["provider-down", "recipient-rejected"],
)
async def test_a_failed_send_is_recorded_and_a_resend_delivers(
    mailchimp: tuple[Api, MandrillStub],
    db: asyncpg.Connection,
    fail: Callable[[MandrillStub, str], None],
    recorded: str,
) -> None:
    (api, stub), email = mailchimp, _email()
    owner, workspace_id = await owner_of(api.client)
    fail(stub, email)
    invited = await api.client.post("/v1/invitations", json={"email": email}, headers=owner)
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert str(body["last_send_error"]).startswith(recorded)
    assert (body["status"], body["sent_at"], body["send_attempts"]) == ("pending", None, 1)
    assert MAIL_KEY not in invited.text
    row = await db.fetchrow(
        "SELECT send_attempts, sent_at, last_send_error FROM invitation WHERE id = $1",
        UUID(body["id"]),
    )
    assert row is not None
    assert tuple(row) == (1, None, body["last_send_error"])

    stub.set_status(email, "sent")
    resent = await api.client.post(f"/v1/invitations/{body['id']}/resend", headers=owner)
    assert resent.status_code == 200, resent.text
    assert (resent.json()["last_send_error"], resent.json()["send_attempts"]) == (None, 2)
    assert resent.json()["sent_at"] is not None
    assert len(stub.requests) == 2
    wire = stub.last_json
    assert (wire["key"], wire["message"]["to"][0]["email"]) == (MAIL_KEY, email)
    joined = await _accept(api.client, sign_in(email), invitation_token(wire["message"]["text"]))
    assert (joined.status_code, joined.json()["id"]) == (200, workspace_id)


# Scoped API keys


async def test_a_new_key_shows_its_secret_once(api: Api, db: asyncpg.Connection) -> None:
    owner, _ = await owner_of(api.client)
    created = await api.client.post(
        "/v1/api-keys", json={"name": "Zapier", "scopes": ["contacts:read"]}, headers=owner
    )
    assert created.status_code == 201, created.text
    key, secret = created.json(), created.json()["secret"]
    assert secret.startswith("crm_sk_")
    assert secret.startswith(key["prefix"])
    assert created.headers["location"] == f"/v1/api-keys/{key['id']}"
    assert (key["scopes"], key["expires_at"], key["revoked_at"]) == (["contacts:read"], None, None)
    one = await api.client.get(f"/v1/api-keys/{key['id']}", headers=owner)
    listed = await api.client.get("/v1/api-keys", headers=owner)
    assert (one.status_code, listed.status_code) == (200, 200)
    assert "secret" not in one.json()
    assert one.json() == {k: v for k, v in key.items() if k != "secret"}
    assert [k["id"] for k in listed.json()["data"]] == [key["id"]]
    assert all("secret" not in k for k in listed.json()["data"])
    for r in (one, listed):
        assert secret not in r.text
    row = await db.fetchrow("SELECT * FROM api_key WHERE id = $1", UUID(key["id"]))
    assert row is not None
    assert all(secret not in str(value) for value in row.values())
    for bad in ([], ["contacts:delete"]):
        r = await api.client.post(
            "/v1/api-keys", json={"name": "Bad", "scopes": bad}, headers=owner
        )
        assert_problem(r, 422, "validation_failed")


async def test_a_read_only_key_reads_but_cannot_write(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    _, reader = await _new_key(api.client, owner, "contacts:read")
    assert (await api.client.get("/v1/contacts", headers=reader)).status_code == 200
    denied = await api.client.post("/v1/contacts", json={"first_name": "Al"}, headers=reader)
    body = assert_problem(denied, 403, "insufficient_scope")
    assert "contacts:write" in str(body["detail"])
    contacts = await api.client.get("/v1/contacts", headers=owner)
    assert contacts.json()["data"] == []


async def test_an_expired_or_revoked_key_is_refused(api: Api, db: asyncpg.Connection) -> None:
    owner, _ = await owner_of(api.client)
    expiring_id, expiring = await _new_key(api.client, owner, "contacts:read")
    revoked_id, revoked = await _new_key(api.client, owner, "contacts:read")
    for key in (expiring, revoked):
        assert (await api.client.get("/v1/contacts", headers=key)).status_code == 200

    await db.execute(
        "UPDATE api_key SET expires_at = now() - interval '1 minute' WHERE id = $1",
        UUID(expiring_id),
    )
    expired = await api.client.get("/v1/contacts", headers=expiring)
    assert_problem(expired, 401, "api_key_expired")
    assert expired.headers["www-authenticate"] == "Bearer"

    assert (await api.client.delete(f"/v1/api-keys/{revoked_id}", headers=owner)).status_code == 204
    assert_problem(await api.client.get("/v1/contacts", headers=revoked), 401, "api_key_revoked")
    shown = (await api.client.get(f"/v1/api-keys/{revoked_id}", headers=owner)).json()
    assert shown["revoked_at"] is not None
    assert (await api.client.delete(f"/v1/api-keys/{revoked_id}", headers=owner)).status_code == 204
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = await api.client.post(
        "/v1/api-keys",
        json={"name": "Old", "scopes": ["contacts:read"], "expires_at": past},
        headers=owner,
    )
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("/expires_at", "in_the_past")]


async def test_using_a_key_stamps_last_used_at(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    key_id, key = await _new_key(api.client, owner, "contacts:read")
    before = (await api.client.get(f"/v1/api-keys/{key_id}", headers=owner)).json()
    assert before["last_used_at"] is None
    assert (await api.client.get("/v1/contacts", headers=key)).status_code == 200
    after = (await api.client.get(f"/v1/api-keys/{key_id}", headers=owner)).json()
    assert after["last_used_at"] is not None
    used_at = datetime.fromisoformat(after["last_used_at"])
    assert datetime.fromisoformat(after["created_at"]) <= used_at <= datetime.now(UTC)


async def test_only_admins_and_admin_keys_manage_keys(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    _, writer = await _new_key(api.client, owner, "contacts:write", "contacts:read")
    new_key = {"name": "Sneaky", "scopes": ["admin"]}
    for r in (
        await api.client.post("/v1/api-keys", json=new_key, headers=writer),
        await api.client.get("/v1/api-keys", headers=writer),
        await api.client.post("/v1/invitations", json={"email": _email()}, headers=writer),
    ):
        body = assert_problem(r, 403, "insufficient_scope")
        assert "`admin`" in str(body["detail"])

    member, _ = await join(api.client, owner, api.mailbox, "member")
    admin, _ = await join(api.client, owner, api.mailbox, "admin")
    assert_problem(
        await api.client.post("/v1/api-keys", json=new_key, headers=member), 403, "role_forbidden"
    )
    await _new_key(api.client, admin, "contacts:read")
    await _new_key(api.client, await api.key(), "contacts:read")
