"""API keys: hashed at rest, revocable, and scoped to their workspace (404, never 403)."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from crm.domain.use_cases.manage_api_keys import RevokeApiKeyCommand
from tests.api.test_http_problems import assert_problem
from tests.support.api import Api


async def test_no_credentials_is_401_with_a_challenge(api: Api) -> None:
    r = await api.client.get("/v1/contacts")
    assert_problem(r, 401, "missing_credentials")
    assert r.headers["www-authenticate"] == "Bearer"
    basic = await api.client.get("/v1/contacts", headers={"Authorization": "Basic eDp5"})
    assert_problem(basic, 401, "missing_credentials")


async def test_an_unknown_key_is_401(api: Api) -> None:
    unknown = {"Authorization": "Bearer crm_sk_" + "A" * 43}
    assert_problem(
        await api.client.get("/v1/contacts", headers=unknown), 401, "invalid_credentials"
    )
    # Neither an API key nor a JWT: refused without asking Firebase, saying what a key is.
    garbage = {"Authorization": "Bearer not-a-key"}
    body = assert_problem(
        await api.client.get("/v1/contacts", headers=garbage), 401, "invalid_credentials"
    )
    assert "crm_sk_" in str(body["detail"])


async def test_a_revoked_key_stops_working(api: Api) -> None:
    created = await api.workspace()
    auth = {"Authorization": f"Bearer {created.secret}"}
    assert (await api.client.get("/v1/contacts", headers=auth)).status_code == 200
    await api.container.revoke_api_key.execute(
        RevokeApiKeyCommand(created.workspace.id, created.api_key.id)
    )
    assert_problem(await api.client.get("/v1/contacts", headers=auth), 401, "api_key_revoked")


async def test_keys_are_stored_hashed_and_never_logged(
    api: Api, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await api.workspace()
    await api.client.get("/v1/contacts", headers={"Authorization": f"Bearer {created.secret}"})
    await api.client.get("/v1/nope", headers={"Authorization": f"Bearer {created.secret}"})
    row = await db.fetchrow("SELECT * FROM api_key WHERE id = $1", created.api_key.id)
    assert row is not None
    assert created.secret not in {str(v) for v in row.values()}
    assert len(row["secret_hash"]) == 64
    assert created.secret.startswith(row["prefix"])
    assert created.secret not in caplog.text


async def test_another_workspace_gets_404_on_every_contact_route(api: Api) -> None:
    mine, theirs = await api.key("Mine"), await api.key("Theirs")
    created = await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=mine)
    url = f"/v1/contacts/{created.json()['id']}"
    assert_problem(await api.client.get(url, headers=theirs), 404, "contact_not_found")
    assert_problem(
        await api.client.patch(url, json={"first_name": "Eve"}, headers=theirs),
        404,
        "contact_not_found",
    )
    assert_problem(await api.client.delete(url, headers=theirs), 404, "contact_not_found")
    assert (await api.client.get("/v1/contacts", headers=theirs)).json()["data"] == []
    still = await api.client.get(url, headers=mine)
    assert (still.status_code, still.json()["first_name"], still.json()["version"]) == (
        200,
        "Ada",
        1,
    )
