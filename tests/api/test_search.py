"""Search and CSV export of contacts, companies and deals end to end over HTTP, on real
PostgreSQL and Redis: results serialized like the reads, 422s that name the filter, scopes,
isolation between workspaces, streamed exports."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import asyncpg
import pytest

from tests.support.api import Api, running_api, settings_for_tests


def f(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def one(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"filter_groups": [{"filters": list(filters)}]}


async def made(api: Api, auth: dict[str, str], url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.post(url, json=body, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def scoped_key(api: Api, admin: dict[str, str], *scopes: str) -> dict[str, str]:
    key = await made(api, admin, "/v1/api-keys", {"name": "scoped", "scopes": list(scopes)})
    return {"Authorization": f"Bearer {key['secret']}"}


async def seed(api: Api, auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Ada works at Acme (software) and is on its renewal deal; Alan at nothing."""
    ada = await made(api, auth, "/v1/contacts", {
        "first_name": "Ada", "last_name": "Lovelace", "emails": ["ada@acme.com"],
        "phones": ["+14155552671"], "tags": ["vip"], "job_title": "=HYPERLINK(\"x\")",
    })  # fmt: skip
    alan = await made(api, auth, "/v1/contacts", {
        "first_name": "Alan", "last_name": "Turing", "emails": ["alan@bletchley.org"],
    })  # fmt: skip
    acme = await made(api, auth, "/v1/companies", {"name": "Acme", "domain": "acme.com",
                                                   "industry": "Software"})  # fmt: skip
    deal = await made(api, auth, "/v1/deals", {"name": "Acme renewal", "amount_minor": 5000,
                                               "currency": "EUR"})  # fmt: skip
    for url in (
        f"/v1/contacts/{ada['id']}/companies/{acme['id']}",
        f"/v1/deals/{deal['id']}/contacts/{ada['id']}",
        f"/v1/deals/{deal['id']}/companies/{acme['id']}",
    ):
        linked = await api.client.put(url, headers=auth)
        assert linked.status_code == 201, linked.text
    return {"ada": ada, "alan": alan, "acme": acme, "deal": deal}


async def search(
    api: Api, auth: dict[str, str], objects: str, body: dict[str, Any], **params: Any
) -> Any:
    return await api.client.post(f"/v1/{objects}/search", json=body, params=params, headers=auth)


async def test_results_read_like_the_get_routes(api: Api) -> None:
    auth = await api.key()
    s = await seed(api, auth)
    found = await search(api, auth, "contacts", one(f("company.industry", "eq", "Software")))
    assert found.status_code == 200, found.text
    got = await api.client.get(f"/v1/contacts/{s['ada']['id']}", headers=auth)
    assert found.json() == {"data": [got.json()], "next_cursor": None}
    deals = await search(api, auth, "deals", one(f("contact.email", "ends_with", "@ACME.com")))
    fetched = await api.client.get(f"/v1/deals/{s['deal']['id']}", headers=auth)
    assert deals.json()["data"] == [fetched.json()]
    companies = await search(api, auth, "companies", {}, q="acme.co")
    one_company = await api.client.get(f"/v1/companies/{s['acme']['id']}", headers=auth)
    assert companies.json()["data"] == [one_company.json()]
    typo = await search(api, auth, "contacts", {"sort": "last_name"}, q="Lovelce")
    assert [c["id"] for c in typo.json()["data"]] == [s["ada"]["id"]]


async def test_pages_follow_the_cursor_and_refuse_anothers(api: Api) -> None:
    auth = await api.key()
    s = await seed(api, auth)
    first = await search(api, auth, "contacts", {"sort": "last_name"}, limit=1)
    assert [c["id"] for c in first.json()["data"]] == [s["ada"]["id"]]
    cursor = first.json()["next_cursor"]
    second = await search(api, auth, "contacts", {"sort": "last_name"}, limit=1, cursor=cursor)
    assert ([c["id"] for c in second.json()["data"]], second.json()["next_cursor"]) == (
        [s["alan"]["id"]],
        None,
    )
    other = await search(api, auth, "contacts", {"sort": "-last_name"}, limit=1, cursor=cursor)
    assert (other.status_code, other.json()["code"]) == (422, "invalid_cursor")
    # With `q` and no sort: closest first; the cursor carries the similarity.
    seen, cursor = [], None
    while True:
        params = {"q": "a", "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = await search(api, auth, "contacts", {}, **params)
        assert page.status_code == 200, page.text
        seen += [c["id"] for c in page.json()["data"]]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert sorted(seen) == sorted([s["ada"]["id"], s["alan"]["id"]])


F0 = "/filter_groups/0/filters/0"
TOO_MANY = {"filter_groups": [{"filters": [f("tags", "eq", "a")] * 9}] * 3}


@pytest.mark.parametrize(
    ("body", "params", "pointer", "code"),
    [
        (one(f("nickname", "eq", "x")), {}, f"{F0}/field", "unknown_search_field"),
        (one(f("first_name", "gt", "x")), {}, f"{F0}/operator", "invalid_search_operator"),
        (one(f("first_name", "like", "x")), {}, f"{F0}/operator", None),
        (one(f("created_at", "lt", 7)), {}, f"{F0}/value", "invalid_search_value"),
        (
            one(f("tags", "eq", "a"), f("first_name", "in", ["x"] * 101)),
            {},
            "/filter_groups/0/filters/1/value",
            "invalid_search_value",
        ),
        (TOO_MANY, {}, "/filter_groups", "search_too_large"),
        ({"filter_groups": [{"filters": []}] * 6}, {}, "/filter_groups", None),
        ({"sort": "email"}, {}, "/sort", None),
        ({}, {"q": ""}, None, None),
        ({"filters": []}, {}, "/filters", None),
    ],
)
async def test_bad_searches_are_422_naming_the_filter(
    api: Api, body: dict[str, Any], params: dict[str, Any], pointer: str | None, code: str | None
) -> None:
    auth = await api.key()
    for objects in ("contacts/search", "contacts/export"):
        response = await api.client.post(f"/v1/{objects}", json=body, params=params, headers=auth)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        if pointer is not None:
            assert [e["field"] for e in problem["errors"]] == [pointer], problem
        if code is not None:
            assert [e["code"] for e in problem["errors"]] == [code], problem


async def test_linked_filters_need_the_linked_objects_scope(api: Api) -> None:
    admin = await api.key()
    await seed(api, admin)
    reader = await scoped_key(api, admin, "contacts:read")
    plain = await search(api, reader, "contacts", one(f("last_name", "eq", "Turing")))
    assert (plain.status_code, len(plain.json()["data"])) == (200, 1)
    linked = await search(api, reader, "contacts", one(f("company.industry", "eq", "Software")))
    assert (linked.status_code, linked.json()["code"]) == (403, "insufficient_scope")
    assert "companies:read" in linked.json()["detail"]
    deals = await search(api, reader, "deals", {})
    assert deals.status_code == 403
    assert "deals:read" in deals.json()["detail"]
    exported = await api.client.post("/v1/companies/export", json={}, headers=reader)
    assert exported.status_code == 403


async def test_another_workspace_never_appears(api: Api) -> None:
    a, b = await api.key("A"), await api.key("B")
    await seed(api, a)
    for objects in ("contacts", "companies", "deals"):
        for body, params in (({}, {}), ({}, {"q": "acme"}), (one(f("tags", "is_null", False)), {})):
            found = await search(api, b, objects, body, **params)
            assert found.json() == {"data": [], "next_cursor": None}, (objects, body)
            exported = await api.client.post(
                f"/v1/{objects}/export", json=body, params=params, headers=b
            )
            assert len(exported.text.splitlines()) == 1
    by_email = await search(api, b, "contacts", one(f("email", "eq", "ada@acme.com")))
    assert by_email.json()["data"] == []


async def test_export_streams_a_csv_of_the_search(api: Api, db: asyncpg.Connection) -> None:
    auth = await api.key()
    define = {"object_type": "contact", "key": "plan", "label": "Plan", "field_type": "text"}
    await made(api, auth, "/v1/custom-fields", define)
    s = await seed(api, auth)
    await api.client.patch(
        f"/v1/contacts/{s['alan']['id']}",
        json={"custom_fields": {"plan": '@gold, "big"'}},
        headers=auth,
    )
    response = await api.client.post(
        "/v1/contacts/export", json={"sort": "created_at"}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == "attachment; filename=contacts.csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "id", "name", "display_name", "first_name", "last_name", "emails", "phones", "job_title",
        "company_name", "lifecycle_stage", "external_id", "owner_id", "tags", "created_at",
        "updated_at", "custom_fields.plan",
    ]  # fmt: skip
    ada, alan = rows
    assert (ada["id"], ada["emails"], ada["phones"], ada["tags"]) == (
        s["ada"]["id"], "ada@acme.com", "'+14155552671", "vip",
    )  # fmt: skip
    assert ada["job_title"] == '\'=HYPERLINK("x")'
    assert ada["created_at"] == s["ada"]["created_at"]
    assert alan["custom_fields.plan"] == '\'@gold, "big"'
    filtered = await api.client.post(
        "/v1/deals/export", json=one(f("contact.first_name", "eq", "Ada")), headers=auth
    )
    [deal] = list(csv.DictReader(io.StringIO(filtered.text)))
    assert (deal["name"], deal["amount_minor"], deal["currency"]) == ("Acme renewal", "5000", "EUR")


async def test_an_export_walks_more_than_one_chunk(api: Api, db: asyncpg.Connection) -> None:
    created = await api.workspace()
    auth = {"Authorization": f"Bearer {created.secret}"}
    await db.execute(
        "INSERT INTO contact (id, workspace_id, first_name, lifecycle_stage, created_at,"
        " updated_at, version) SELECT gen_random_uuid(), $1, 'P' || n, 'lead',"
        " now() - n * interval '1 second', now(), 1 FROM generate_series(1, 2345) n",
        created.workspace.id,
    )
    response = await api.client.post("/v1/contacts/export", json={}, headers=auth)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len({r["id"] for r in rows}) == 2345
    assert [r["first_name"] for r in rows[:2]] == ["P1", "P2"]
    assert rows[-1]["first_name"] == "P2345"


async def test_a_search_is_one_statement_and_custom_fields_add_one(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    init = asyncpg.Connection.__init__

    def logging_init(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.add_query_logger(lambda record: sent.append(record.query))

    monkeypatch.setattr(asyncpg.Connection, "__init__", logging_init)
    settings = settings_for_tests(database_url, redis_url, auth_cache_ttl_seconds=3600)
    async with running_api(settings) as api:
        auth = await api.key()
        define = {"object_type": "contact", "key": "plan", "label": "Plan", "field_type": "text"}
        await made(api, auth, "/v1/custom-fields", define)

        async def statements(body: dict[str, Any]) -> list[str]:
            await search(api, auth, "contacts", body)  # warm the auth cache and the pool
            await asyncio.sleep(0)
            sent.clear()
            response = await search(api, auth, "contacts", body)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0)
            return list(sent)

        assert len(await statements(one(f("email", "eq", "a@b.co")))) == 1
        with_custom = await statements(one(f("custom_fields.plan", "eq", "gold")))
        assert len(with_custom) == 2
        assert "FROM custom_field" in with_custom[0]
