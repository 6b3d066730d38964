"""/v1/channels/whatsapp over HTTP: who may connect numbers, the access token stored
encrypted and never shown, one workspace per phone number id (also under a race), versions,
input refused with a problem, and other workspaces' channels unseen."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from crm.adapters.postgres.engine import create_engine
from tests.api.test_http_problems import assert_problem
from tests.support.api import Api
from tests.support.people import in_workspace, join, owner_of

BASE = "/v1/channels/whatsapp"
TOKEN = "EAAGm0PX4ZCpsBAKZC2E0some0long0token0ABCD"


def channel(phone_number_id: str = "106540352242922", **more: object) -> dict[str, object]:
    return {
        "phone_number_id": phone_number_id,
        "display_phone_number": "+1 (555) 078-3881",
        "access_token": TOKEN,
        **more,
    }


async def stored_token(database_url: str, channel_id: str) -> str:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = text("SELECT access_token_encrypted FROM whatsapp_channel WHERE id = :id")
            return str((await conn.execute(query, {"id": channel_id})).scalar_one())
    finally:
        await engine.dispose()


async def test_a_channel_journey(api: Api, database_url: str) -> None:
    owner, _ = await owner_of(api.client)
    made = await api.client.post(BASE, json=channel(name="Sales line"), headers=owner)
    assert made.status_code == 201, made.text
    body = made.json()
    assert made.headers["Location"] == f"{BASE}/{body['id']}"
    assert made.headers["ETag"] == '"1"'
    assert body["display_phone_number"] == "+15550783881"
    assert (body["name"], body["access_token_last4"], body["version"]) == ("Sales line", "ABCD", 1)
    assert "access_token" not in body
    assert TOKEN not in made.text

    sealed = await stored_token(database_url, body["id"])
    assert TOKEN not in sealed
    assert api.container.channels.connect._cipher.decrypt(sealed) == TOKEN

    one = f"{BASE}/{body['id']}"
    read = await api.client.get(one, headers=owner)
    assert read.status_code == 200
    assert read.json() == body
    listed = await api.client.get(BASE, headers=owner)
    assert [c["id"] for c in listed.json()["data"]] == [body["id"]]
    assert TOKEN not in read.text + listed.text

    stale = await api.client.patch(one, json={"name": None}, headers={**owner, "If-Match": '"9"'})
    assert_problem(stale, 412, "version_conflict")
    rotated = await api.client.patch(
        one, json={"access_token": TOKEN[:-4] + "WXYZ", "name": None}, headers=owner
    )
    assert rotated.status_code == 200, rotated.text
    assert (rotated.json()["access_token_last4"], rotated.json()["name"]) == ("WXYZ", None)
    assert rotated.headers["ETag"] == '"2"'
    assert await stored_token(database_url, body["id"]) != sealed
    same = await api.client.patch(one, json={"access_token": TOKEN[:-4] + "WXYZ"}, headers=owner)
    assert same.json()["version"] == 2  # the same token again changes nothing

    gone = await api.client.delete(one, headers={**owner, "If-Match": '"2"'})
    assert gone.status_code == 204
    assert_problem(await api.client.get(one, headers=owner), 404, "channel_not_found")
    again = await api.client.post(BASE, json=channel(), headers=owner)
    assert again.status_code == 201  # a disconnected number can be connected again


async def test_only_owners_admins_and_admin_keys_manage_channels(api: Api) -> None:
    owner, workspace = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox, role="member")
    admin, _ = await join(api.client, owner, api.mailbox, role="admin")
    assert_problem(
        await api.client.post(BASE, json=channel(), headers=member), 403, "role_forbidden"
    )
    assert_problem(await api.client.get(BASE, headers=member), 403, "role_forbidden")
    keys = {}
    for scopes in (["contacts:write"], ["admin"]):
        made = await api.client.post(
            "/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=owner
        )
        keys[scopes[0]] = in_workspace(
            {"Authorization": f"Bearer {made.json()['secret']}"}, workspace
        )
    refused = await api.client.post(BASE, json=channel(), headers=keys["contacts:write"])
    assert_problem(refused, 403, "insufficient_scope")
    for n, allowed in enumerate((admin, keys["admin"])):
        done = await api.client.post(BASE, json=channel(f"{n + 1}000"), headers=allowed)
        assert done.status_code == 201, done.text


async def test_a_phone_number_id_belongs_to_one_workspace(api: Api) -> None:
    ours, _ = await owner_of(api.client, "Ours")
    theirs, _ = await owner_of(api.client, "Theirs")
    made = await api.client.post(BASE, json=channel("555000111"), headers=ours)
    assert made.status_code == 201
    for who in (ours, theirs):
        taken = await api.client.post(BASE, json=channel("555000111"), headers=who)
        assert_problem(taken, 409, "whatsapp_number_connected")
    # theirs never see ours, by list or by id, and cannot change or remove it
    assert (await api.client.get(BASE, headers=theirs)).json()["data"] == []
    one = f"{BASE}/{made.json()['id']}"
    assert_problem(await api.client.get(one, headers=theirs), 404, "channel_not_found")
    patched = await api.client.patch(one, json={"name": "x"}, headers=theirs)
    assert_problem(patched, 404, "channel_not_found")
    assert_problem(await api.client.delete(one, headers=theirs), 404, "channel_not_found")
    assert (await api.client.get(one, headers=ours)).json()["name"] is None


async def test_racing_connections_of_one_number_leave_exactly_one(api: Api) -> None:
    owners = [(await owner_of(api.client, f"W{n}"))[0] for n in range(6)]
    answers = await asyncio.gather(
        *(api.client.post(BASE, json=channel("777000777"), headers=who) for who in owners * 2)
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 11, [a.text for a in answers if a.status_code not in (201, 409)]
    held = [len((await api.client.get(BASE, headers=who)).json()["data"]) for who in owners]
    assert sorted(held) == [0] * 5 + [1]


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"phone_number_id": "12ab"}, "/phone_number_id"),
        ({"phone_number_id": "1" * 33}, "/phone_number_id"),
        ({"display_phone_number": "555-0100"}, "/display_phone_number"),
        ({"display_phone_number": "+0 555 078 3881"}, "/display_phone_number"),
        ({"access_token": "has a space in it, long enough"}, "/access_token"),
        ({"access_token": "short"}, "/access_token"),
        ({"access_token": "tökén-with-non-ascii-0123456789"}, "/access_token"),
        ({"name": ""}, "/name"),
        ({"verified": True}, "/verified"),
    ],
)
async def test_bad_input_is_a_problem_and_stores_nothing(
    api: Api, change: dict[str, object], pointer: str
) -> None:
    owner, _ = await owner_of(api.client)
    refused = await api.client.post(BASE, json={**channel(), **change}, headers=owner)
    problem = assert_problem(refused, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == [pointer], problem
    assert (await api.client.get(BASE, headers=owner)).json()["data"] == []


async def test_a_change_cannot_remove_what_a_channel_needs(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    made = (await api.client.post(BASE, json=channel(), headers=owner)).json()
    one = f"{BASE}/{made['id']}"
    for change in (
        {"access_token": None},
        {"display_phone_number": None},
        {"phone_number_id": "9"},
    ):
        refused = await api.client.patch(one, json=change, headers=owner)
        problem = assert_problem(refused, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == [f"/{next(iter(change))}"]
    assert (await api.client.get(one, headers=owner)).json() == made
