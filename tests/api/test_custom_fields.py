"""/v1/custom-fields and /v1/tags over HTTP, and how contacts use them."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from tests.support.api import Api, running_api, settings_for_tests
from tests.support.people import join, owner_of

PLAN = {
    "object_type": "contact",
    "key": "plan",
    "label": "Plan",
    "field_type": "single_select",
    "options": [{"value": "free", "label": "Free"}, {"value": "pro", "label": "Pro"}],
}


async def define(api: Api, auth: dict[str, str], **raw: Any) -> dict[str, Any]:
    body = {"object_type": "contact", "label": "A field", "field_type": "text", **raw}
    r = await api.client.post("/v1/custom-fields", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def new_contact(api: Api, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/contacts", json={"first_name": "Ada", **fields}, headers=auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


def fields_of(problem: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in problem["errors"]]


async def test_define_read_list_and_update_a_field(api: Api) -> None:
    auth = await api.key()
    r = await api.client.post("/v1/custom-fields", json=PLAN, headers=auth)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["Location"] == f"/v1/custom-fields/{made['id']}"
    assert r.headers["ETag"] == '"1"'
    assert {k: made[k] for k in ("key", "field_type", "archived", "version")} == {
        "key": "plan",
        "field_type": "single_select",
        "archived": False,
        "version": 1,
    }
    assert made["options"] == PLAN["options"]
    await define(api, auth, object_type="deal", key="plan")
    got = await api.client.get(f"/v1/custom-fields/{made['id']}", headers=auth)
    assert got.json() == made
    listed = await api.client.get("/v1/custom-fields?object_type=contact", headers=auth)
    assert [f["id"] for f in listed.json()["data"]] == [made["id"]]
    everything = await api.client.get("/v1/custom-fields?limit=1", headers=auth)
    assert len(everything.json()["data"]) == 1
    cursor = everything.json()["next_cursor"]
    rest = await api.client.get(f"/v1/custom-fields?limit=1&cursor={cursor}", headers=auth)
    assert [f["object_type"] for f in rest.json()["data"]] == ["deal"]
    assert rest.json()["next_cursor"] is None
    changes = {"label": "Pricing plan", "options": [{"value": "gold"}]}
    patched = await api.client.patch(
        f"/v1/custom-fields/{made['id']}", json=changes, headers={**auth, "If-Match": '"1"'}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["label"], patched.json()["options"], patched.json()["version"]) == (
        "Pricing plan",
        [{"value": "gold", "label": "gold"}],
        2,
    )
    stale = await api.client.patch(
        f"/v1/custom-fields/{made['id']}", json={"label": "X"}, headers={**auth, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    immutable = await api.client.patch(
        f"/v1/custom-fields/{made['id']}", json={"key": "other"}, headers=auth
    )
    assert immutable.status_code == 422
    final = await api.client.get(f"/v1/custom-fields/{made['id']}", headers=auth)
    assert (final.json()["label"], final.json()["key"]) == ("Pricing plan", "plan")


async def test_bad_definitions_and_duplicate_keys(api: Api) -> None:
    auth = await api.key()
    await define(api, auth, key="source")
    dup = await api.client.post("/v1/custom-fields", json={**PLAN, "key": "source"}, headers=auth)
    assert dup.status_code == 409
    assert dup.json()["code"] == "custom_field_key_taken"
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({**PLAN, "key": "Bad-Key"}, ("/key", "invalid_key")),
        ({**PLAN, "options": None}, ("/options", "options_required")),
        ({**PLAN, "field_type": "json"}, ("/field_type", "enum")),
        ({**PLAN, "object_type": "lead"}, ("/object_type", "enum")),
        ({**PLAN, "field_type": "text"}, ("/options", "options_not_allowed")),
        ({**PLAN, "color": "red"}, ("/color", "extra_forbidden")),
    ]
    for body, first in cases:
        r = await api.client.post("/v1/custom-fields", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert fields_of(r.json())[0] == first, (body, r.text)
    listed = await api.client.get("/v1/custom-fields", headers=auth)
    assert [f["key"] for f in listed.json()["data"]] == ["source"]


async def test_contact_values_are_checked_against_the_definitions(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    await define(api, auth, **PLAN)
    await define(api, auth, key="seats", field_type="number")
    await define(api, auth, key="renewal", field_type="datetime")
    await define(api, auth, key="site", field_type="url")
    await define(api, auth, key="company_type", object_type="company")
    good = {"plan": "pro", "seats": 12, "renewal": "2027-01-01T10:00:00+02:00"}
    made = await new_contact(api, auth, custom_fields=good)
    assert made["custom_fields"] == {**good, "renewal": "2027-01-01T08:00:00Z"}
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({"nope": 1}, [("/custom_fields/nope", "unknown_field")]),
        ({"company_type": "x"}, [("/custom_fields/company_type", "unknown_field")]),
        ({"seats": "12"}, [("/custom_fields/seats", "wrong_type")]),
        ({"seats": True}, [("/custom_fields/seats", "wrong_type")]),
        ({"plan": "gold"}, [("/custom_fields/plan", "unknown_option")]),
        ({"renewal": "2027-01-01"}, [("/custom_fields/renewal", "invalid_datetime")]),
        ({"site": "ftp://x.example"}, [("/custom_fields/site", "invalid_url")]),
        (
            {"plan": "gold", "seats": "x"},
            [("/custom_fields/plan", "unknown_option"), ("/custom_fields/seats", "wrong_type")],
        ),
    ]
    for values, errors in cases:
        r = await api.client.post(
            "/v1/contacts", json={"first_name": "Eve", "custom_fields": values}, headers=auth
        )
        assert r.status_code == 422, (values, r.text)
        assert r.json()["code"] == "validation_failed"
        assert fields_of(r.json()) == errors, (values, r.text)
        r = await api.client.patch(
            f"/v1/contacts/{made['id']}", json={"custom_fields": values}, headers=auth
        )
        assert r.status_code == 422, (values, r.text)
        assert fields_of(r.json()) == errors, (values, r.text)
    assert await db.fetchval("SELECT count(*) FROM contact") == 1
    stored = await db.fetchval("SELECT custom_fields::text FROM contact")
    assert '"seats": 12' in stored
    cleared = await api.client.patch(
        f"/v1/contacts/{made['id']}", json={"custom_fields": {"seats": None}}, headers=auth
    )
    assert cleared.status_code == 200, cleared.text
    assert "seats" not in cleared.json()["custom_fields"]


async def test_archived_values_are_hidden_kept_and_shown_again(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    plan = await define(api, auth, **PLAN)
    await define(api, auth, key="seats", field_type="number")
    made = await new_contact(api, auth, custom_fields={"plan": "pro", "seats": 3})
    url = f"/v1/custom-fields/{plan['id']}"
    archived = await api.client.patch(url, json={"archived": True}, headers=auth)
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True
    assert archived.json()["archived_at"] is not None
    got = await api.client.get(f"/v1/contacts/{made['id']}", headers=auth)
    assert got.json()["custom_fields"] == {"seats": 3}
    listed = await api.client.get("/v1/contacts", headers=auth)
    assert listed.json()["data"][0]["custom_fields"] == {"seats": 3}
    refused = await api.client.patch(
        f"/v1/contacts/{made['id']}", json={"custom_fields": {"plan": "free"}}, headers=auth
    )
    assert refused.status_code == 422
    assert fields_of(refused.json()) == [("/custom_fields/plan", "field_archived")]
    other = await api.client.patch(
        f"/v1/contacts/{made['id']}", json={"custom_fields": {"seats": 4}}, headers=auth
    )
    assert other.json()["custom_fields"] == {"seats": 4}
    stored = await db.fetchval("SELECT custom_fields::text FROM contact")
    assert '"plan": "pro"' in stored
    back = await api.client.patch(url, json={"archived": False}, headers=auth)
    assert back.json()["archived"] is False
    got = await api.client.get(f"/v1/contacts/{made['id']}", headers=auth)
    assert got.json()["custom_fields"] == {"plan": "pro", "seats": 4}


async def test_members_read_the_schema_and_only_admins_change_it(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox, role="member")
    admin, _ = await join(api.client, owner, api.mailbox, role="admin")
    made = await define(api, admin, key="source")
    assert (await api.client.get("/v1/custom-fields", headers=member)).status_code == 200
    for method, path, body in [
        ("POST", "/v1/custom-fields", {**PLAN}),
        ("PATCH", f"/v1/custom-fields/{made['id']}", {"archived": True}),
        ("POST", "/v1/tags", {"name": "vip"}),
    ]:
        r = await api.client.request(method, path, json=body, headers=member)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["code"] == "role_forbidden"
    tag = await api.client.post("/v1/tags", json={"name": "vip"}, headers=admin)
    assert tag.status_code == 201
    tag_url = f"/v1/tags/{tag.json()['id']}"
    assert (await api.client.get(tag_url, headers=member)).status_code == 200
    assert (await api.client.delete(tag_url, headers=member)).status_code == 403
    assert (await api.client.patch(tag_url, json={"name": "x"}, headers=member)).status_code == 403
    got = await api.client.get(f"/v1/custom-fields/{made['id']}", headers=member)
    assert got.json()["archived"] is False
    assert (await api.client.get(tag_url, headers=owner)).json()["name"] == "vip"


async def test_keys_need_admin_to_manage_and_any_scope_to_read(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    r = await api.client.post(
        "/v1/api-keys", json={"name": "sync", "scopes": ["contacts:write"]}, headers=owner
    )
    key = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert (await api.client.get("/v1/custom-fields", headers=key)).status_code == 200
    assert (await api.client.get("/v1/tags", headers=key)).status_code == 200
    denied = await api.client.post("/v1/custom-fields", json=PLAN, headers=key)
    assert denied.status_code == 403
    assert denied.json()["code"] == "insufficient_scope"
    denied = await api.client.post("/v1/tags", json={"name": "vip"}, headers=key)
    assert denied.status_code == 403
    # Writing a contact with a new tag still adds it to the catalogue.
    created = await api.client.post(
        "/v1/contacts", json={"first_name": "Ada", "tags": ["VIP"]}, headers=key
    )
    assert created.status_code == 201, created.text
    tags = await api.client.get("/v1/tags", headers=owner)
    assert [t["name"] for t in tags.json()["data"]] == ["vip"]


async def test_another_workspaces_fields_and_tags_are_not_found(api: Api) -> None:
    a, b = await api.key("A"), await api.key("B")
    field = await define(api, a, key="source")
    tag = (await api.client.post("/v1/tags", json={"name": "vip"}, headers=a)).json()
    for method, path, body in [
        ("GET", f"/v1/custom-fields/{field['id']}", None),
        ("PATCH", f"/v1/custom-fields/{field['id']}", {"archived": True}),
        ("GET", f"/v1/tags/{tag['id']}", None),
        ("PATCH", f"/v1/tags/{tag['id']}", {"name": "mine"}),
        ("DELETE", f"/v1/tags/{tag['id']}", None),
    ]:
        r = await api.client.request(method, path, json=body, headers=b)
        assert r.status_code == 404, (method, path, r.text)
    assert (await api.client.get("/v1/custom-fields", headers=b)).json()["data"] == []
    assert (await api.client.get("/v1/tags", headers=b)).json()["data"] == []
    # A's definition gives B nothing to write.
    r = await api.client.post(
        "/v1/contacts", json={"first_name": "E", "custom_fields": {"source": "x"}}, headers=b
    )
    assert fields_of(r.json()) == [("/custom_fields/source", "unknown_field")]
    assert (await api.client.get(f"/v1/tags/{tag['id']}", headers=a)).json()["name"] == "vip"
    got = await api.client.get(f"/v1/custom-fields/{field['id']}", headers=a)
    assert got.json()["archived"] is False


async def test_tag_catalogue_rename_and_delete_follow_through_contacts(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    r = await api.client.post(
        "/v1/tags", json={"name": " Key  Account", "color": "#D62728"}, headers=auth
    )
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["color"], r.headers["ETag"]) == (
        "key account",
        "#d62728",
        '"1"',
    )
    key_account = r.json()
    dup = await api.client.post("/v1/tags", json={"name": "KEY ACCOUNT"}, headers=auth)
    assert (dup.status_code, dup.json()["code"]) == (409, "tag_name_taken")
    bad = await api.client.post("/v1/tags", json={"name": "x", "color": "red"}, headers=auth)
    assert bad.status_code == 422
    ada = await new_contact(api, auth, tags=["key account", "emea"])
    eve = await new_contact(api, auth, tags=["emea"])
    tags = (await api.client.get("/v1/tags", headers=auth)).json()["data"]
    assert [t["name"] for t in tags] == ["key account", "emea"]
    emea = tags[1]
    renamed = await api.client.patch(
        f"/v1/tags/{key_account['id']}",
        json={"name": "Strategic"},
        headers={**auth, "If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["version"]) == ("strategic", 2)
    taken = await api.client.patch(
        f"/v1/tags/{key_account['id']}", json={"name": "emea"}, headers=auth
    )
    assert taken.status_code == 409
    got = (await api.client.get(f"/v1/contacts/{ada['id']}", headers=auth)).json()
    assert (got["tags"], got["version"]) == (["strategic", "emea"], 2)
    stale = await api.client.delete(f"/v1/tags/{emea['id']}", headers={**auth, "If-Match": '"9"'})
    assert stale.status_code == 412
    deleted = await api.client.delete(f"/v1/tags/{emea['id']}", headers=auth)
    assert deleted.status_code == 204
    assert (await api.client.get(f"/v1/tags/{emea['id']}", headers=auth)).status_code == 404
    rows = await db.fetch("SELECT id, tags FROM contact ORDER BY created_at")
    assert [(str(r["id"]), r["tags"]) for r in rows] == [
        (ada["id"], ["strategic"]),
        (eve["id"], []),
    ]
    assert await db.fetchval("SELECT array_agg(name ORDER BY name) FROM tag") == ["strategic"]


async def test_contacts_filter_by_tags(api: Api) -> None:
    auth = await api.key()
    ada = await new_contact(api, auth, tags=["vip", "emea"])
    eve = await new_contact(api, auth, tags=["emea"])
    await new_contact(api, auth)

    async def ids(query: str) -> list[str]:
        r = await api.client.get(f"/v1/contacts?{query}", headers=auth)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["data"]]

    assert await ids("tag=EMEA") == [eve["id"], ada["id"]]
    assert await ids("tag=emea&tag=vip") == [ada["id"]]
    assert await ids("tag=emea&sort=created_at") == [ada["id"], eve["id"]]
    assert await ids("tag=nobody") == []
    first = await api.client.get("/v1/contacts?tag=emea&limit=1", headers=auth)
    assert [c["id"] for c in first.json()["data"]] == [eve["id"]]
    cursor = first.json()["next_cursor"]
    assert await ids(f"tag=emea&limit=1&cursor={cursor}") == [ada["id"]]
    too_many = await api.client.get("/v1/contacts?" + "&".join(["tag=x"] * 11), headers=auth)
    assert too_many.status_code == 422


async def test_schema_reads_are_one_statement_without_a_transaction(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One database round trip per read: every asyncpg connection the application opens
    logs what it sends (the read pool's statements, every BEGIN, COMMIT and ROLLBACK); a
    read of the schema sends exactly one statement, a SELECT, and opens no transaction."""
    sent: list[str] = []
    init = asyncpg.Connection.__init__

    def logging_init(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.add_query_logger(lambda record: sent.append(record.query))

    async def statements(
        api: Api, method: str, path: str, auth: dict[str, str], **kw: Any
    ) -> list[str]:
        await asyncio.sleep(0)  # loggers run soon after the statement, on the event loop
        sent.clear()
        r = await api.client.request(method, path, headers=auth, **kw)
        assert r.status_code < 300, r.text
        await asyncio.sleep(0)
        return [" ".join(q.split()) for q in sent]

    monkeypatch.setattr(asyncpg.Connection, "__init__", logging_init)
    # A cached caller: authentication itself sends nothing on the measured requests.
    settings = settings_for_tests(database_url, redis_url, auth_cache_ttl_seconds=3600)
    async with running_api(settings) as api:
        auth = await api.key()
        field = await define(api, auth, key="plan")
        written = await statements(api, "POST", "/v1/tags", auth, json={"name": "vip"})
        # The instrument sees a unit of work (SQLAlchemy's own statements inside it are
        # prepared ones asyncpg does not log, but every transaction begins and ends here).
        assert written[0].startswith("BEGIN"), written
        assert written[-1].startswith("COMMIT"), written
        tag = (await api.client.get("/v1/tags", headers=auth)).json()["data"][0]
        reads = {
            "/v1/custom-fields": "FROM custom_field",
            "/v1/custom-fields?object_type=contact": "FROM custom_field",
            f"/v1/custom-fields/{field['id']}": "FROM custom_field",
            "/v1/tags": "FROM tag",
            f"/v1/tags/{tag['id']}": "FROM tag",
        }
        for path, table in reads.items():
            await statements(api, "GET", path, auth)  # warm up the auth cache and the pool
            [statement] = await statements(api, "GET", path, auth)
            assert statement.startswith("SELECT "), statement
            assert f" {table} " in statement, statement
