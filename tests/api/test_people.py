"""People over HTTP: Firebase sign-in, workspaces, members and roles, end to end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from tests.api.test_http_problems import assert_problem
from tests.support.api import Api, running_api, settings_for_tests
from tests.support.firebase import mint_id_token
from tests.support.people import PROJECT_ID, auth_emulator, in_workspace, join, owner_of, sign_in


def _token(uid: str, **claims: Any) -> dict[str, str]:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "email": f"{uid}@example.com",
        "issued_at": now - timedelta(minutes=1),
        "expires_at": now + timedelta(hours=1),
    }
    values.update(claims)
    return {"Authorization": f"Bearer {mint_id_token(PROJECT_ID, uid, **values)}"}


async def test_first_sign_in_creates_the_user_from_the_token(
    api: Api, db: asyncpg.Connection
) -> None:
    person = sign_in("ada@example.com", uid="uid-ada", name="Ada Lovelace")
    r = await api.client.get("/v1/workspaces", headers=person)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [], "next_cursor": None}
    row = await db.fetchrow("SELECT * FROM user_account WHERE firebase_uid = 'uid-ada'")
    assert row is not None
    assert (row["email"], row["email_verified"], row["display_name"]) == (
        "ada@example.com",
        True,
        "Ada Lovelace",
    )
    await api.client.get("/v1/workspaces", headers=person)
    assert await db.fetchval("SELECT count(*) FROM user_account") == 1


async def test_each_bad_token_is_a_401_with_its_own_code(api: Api) -> None:
    stub, now = auth_emulator(), datetime.now(UTC)
    for uid in ("uid-exp", "uid-aud", "uid-iss", "uid-rev", "uid-off"):
        stub.add_user(uid, email=f"{uid}@example.com", email_verified=True)
    stub.revoke_tokens("uid-rev", at=now)
    stub.disable("uid-off")
    cases = {
        "token_expired": _token("uid-exp", expires_at=now - timedelta(seconds=1)),
        "token_wrong_audience": _token("uid-aud", audience="someone-else"),
        "token_wrong_issuer": _token("uid-iss", issuer="https://evil.example/crm-test"),
        "token_revoked": _token("uid-rev"),
        "user_disabled": _token("uid-off"),
        "invalid_token": {"Authorization": "Bearer eyJhbGciOi.not-a.jwt"},
    }
    for code, headers in cases.items():
        r = await api.client.get("/v1/workspaces", headers=headers)
        assert_problem(r, 401, code)
        assert r.headers["www-authenticate"] == "Bearer"


async def test_the_creator_owns_the_workspace_and_lists_it(api: Api) -> None:
    owner, workspace_id = await owner_of(api.client, "Acme Sales")
    person = {"Authorization": owner["Authorization"]}
    mine = (await api.client.get("/v1/workspaces", headers=person)).json()["data"]
    assert [(w["id"], w["name"], w["role"]) for w in mine] == [
        (workspace_id, "Acme Sales", "owner")
    ]
    one = await api.client.get(f"/v1/workspaces/{workspace_id}", headers=person)
    assert (one.status_code, one.json()["role"]) == (200, "owner")
    members = (await api.client.get("/v1/members", headers=owner)).json()["data"]
    assert [m["role"] for m in members] == ["owner"]


async def test_a_workspace_you_are_not_in_is_404_and_people_must_name_one(api: Api) -> None:
    _, theirs = await owner_of(api.client, "Theirs")
    eve = sign_in("eve@example.com")
    r = await api.client.get("/v1/contacts", headers=in_workspace(eve, theirs))
    body = assert_problem(r, 404, "workspace_not_found")
    assert "Theirs" not in r.text
    assert body["instance"] == "/v1/contacts"
    assert_problem(
        await api.client.get(f"/v1/workspaces/{theirs}", headers=eve), 404, "workspace_not_found"
    )
    missing = assert_problem(
        await api.client.get("/v1/contacts", headers=eve), 422, "workspace_required"
    )
    assert missing["errors"] == [
        {
            "field": "X-Workspace-ID",
            "source": "header",
            "code": "missing",
            "message": "required for people",
        }
    ]
    bad = await api.client.get("/v1/contacts", headers=in_workspace(eve, "nope"))
    assert_problem(bad, 422, "validation_failed")


async def test_api_keys_cannot_do_what_only_people_do(api: Api) -> None:
    key = await api.key()
    r = await api.client.post("/v1/workspaces", json={"name": "X"}, headers=key)
    assert_problem(r, 403, "person_required")
    assert_problem(await api.client.get("/v1/workspaces", headers=key), 403, "person_required")
    elsewhere = {**key, "X-Workspace-ID": "0190a5a0-0000-7000-8000-000000000000"}
    assert_problem(
        await api.client.get("/v1/contacts", headers=elsewhere), 404, "workspace_not_found"
    )


async def test_roles_over_http(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    admin, admin_id = await join(api.client, owner, api.mailbox, "admin")
    member, member_id = await join(api.client, owner, api.mailbox, "member")
    me = (await api.client.get("/v1/members", headers=member)).json()["data"]
    owner_id = next(m["user_id"] for m in me if m["role"] == "owner")
    # A member writes contacts, deletes their own, never someone else's.
    mine = await api.client.post(
        "/v1/contacts", json={"first_name": "Mo", "owner_id": member_id}, headers=member
    )
    others = await api.client.post("/v1/contacts", json={"first_name": "Al"}, headers=admin)
    assert (mine.status_code, others.status_code) == (201, 201)
    denied = await api.client.delete(f"/v1/contacts/{others.json()['id']}", headers=member)
    assert_problem(denied, 403, "role_forbidden")
    assert (
        await api.client.delete(f"/v1/contacts/{mine.json()['id']}", headers=member)
    ).status_code == 204
    # Members manage nobody, no keys, no invitations.
    for r in (
        await api.client.patch(f"/v1/members/{admin_id}", json={"role": "member"}, headers=member),
        await api.client.get("/v1/api-keys", headers=member),
        await api.client.post("/v1/invitations", json={"email": "z@example.com"}, headers=member),
    ):
        assert_problem(r, 403, "role_forbidden")
    # Admins manage members and admins, never owners.
    promoted = await api.client.patch(
        f"/v1/members/{member_id}", json={"role": "admin"}, headers=admin
    )
    assert (promoted.status_code, promoted.json()["role"]) == (200, "admin")
    for r in (
        await api.client.patch(f"/v1/members/{owner_id}", json={"role": "member"}, headers=admin),
        await api.client.delete(f"/v1/members/{owner_id}", headers=admin),
        await api.client.patch(f"/v1/members/{member_id}", json={"role": "owner"}, headers=admin),
    ):
        assert_problem(r, 403, "role_forbidden")


async def test_the_last_owner_stays(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    owner_id = (await api.client.get("/v1/members", headers=owner)).json()["data"][0]["user_id"]
    demote = await api.client.patch(
        f"/v1/members/{owner_id}", json={"role": "admin"}, headers=owner
    )
    assert_problem(demote, 409, "last_owner")
    assert_problem(
        await api.client.delete(f"/v1/members/{owner_id}", headers=owner), 409, "last_owner"
    )
    co_owner, co_id = await join(api.client, owner, api.mailbox, "owner")
    assert (await api.client.delete(f"/v1/members/{owner_id}", headers=owner)).status_code == 204
    assert_problem(await api.client.get("/v1/members", headers=owner), 404, "workspace_not_found")
    alone = await api.client.patch(
        f"/v1/members/{co_id}", json={"role": "member"}, headers=co_owner
    )
    assert_problem(alone, 409, "last_owner")


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    api: Api, db: asyncpg.Connection
) -> None:
    first, workspace_id = await owner_of(api.client)
    second, second_id = await join(api.client, first, api.mailbox, "owner")
    members = (await api.client.get("/v1/members", headers=first)).json()["data"]
    first_id = next(m["user_id"] for m in members if m["user_id"] != second_id)
    results = await asyncio.gather(
        api.client.patch(f"/v1/members/{second_id}", json={"role": "member"}, headers=first),
        api.client.patch(f"/v1/members/{first_id}", json={"role": "member"}, headers=second),
    )
    # Whichever commits first wins; the other is refused, either because its target is now
    # the last owner (409) or because its author is no longer an owner (403).
    winner, loser = sorted(results, key=lambda r: r.status_code)
    assert winner.status_code == 200, winner.text
    assert (loser.status_code, loser.json()["code"]) in {
        (409, "last_owner"),
        (403, "role_forbidden"),
    }, loser.text
    owners = await db.fetchval(
        "SELECT count(*) FROM member WHERE workspace_id = $1 AND role = 'owner'",
        UUID(workspace_id),
    )
    assert owners == 1


async def test_without_firebase_a_sign_in_token_is_told_the_service_takes_keys_only(
    database_url: str, redis_url: str
) -> None:
    settings = settings_for_tests(
        database_url, redis_url, firebase_project_id=None, firebase_auth_emulator_host=None
    )
    async with running_api(settings) as api:
        person = sign_in("ada@example.com")
        r = await api.client.get("/v1/workspaces", headers=person)
        assert_problem(r, 401, "sign_in_not_configured")
        assert "CRM_FIREBASE_PROJECT_ID" in r.json()["detail"]
        key = await api.key()
        assert (await api.client.get("/v1/contacts", headers=key)).status_code == 200
