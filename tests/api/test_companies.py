"""Companies and contact-company links end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support.api import Api
from tests.support.people import join, owner_of

ACME = {"name": "Acme", "domain": "https://WWW.Acme.com/about", "country": "gb"}


async def create(api: Api, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.client.post("/v1/companies", json=body or ACME, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def contact(api: Api, auth: dict[str, str], name: str = "Ada") -> str:
    response = await api.client.post("/v1/contacts", json={"first_name": name}, headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def scoped_key(api: Api, admin: dict[str, str], *scopes: str) -> dict[str, str]:
    made = await api.client.post(
        "/v1/api-keys", json={"name": "scoped", "scopes": list(scopes)}, headers=admin
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['secret']}"}


def link_url(contact_id: str, company_id: str) -> str:
    return f"/v1/contacts/{contact_id}/companies/{company_id}"


async def test_the_whole_journey(api: Api, db: asyncpg.Connection) -> None:
    auth = await api.key()
    created = await api.client.post(
        "/v1/companies",
        json={
            **ACME,
            "size_band": "51-200",
            "address": {"line1": "1 Main St", "city": "London"},
            "website": "https://acme.com",
            "tags": ["Enterprise"],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/v1/companies/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert (body["domain"], body["country"], body["tags"], body["version"]) == (
        "acme.com",
        "GB",
        ["enterprise"],
        1,
    )
    assert body["address"] == {
        "line1": "1 Main St",
        "line2": None,
        "city": "London",
        "region": None,
        "postal_code": None,
    }
    assert body["created_at"].endswith("Z")
    stored = await db.fetchrow(
        "SELECT domain, size_band FROM company WHERE id = $1::uuid", body["id"]
    )
    assert stored is not None
    assert tuple(stored) == ("acme.com", "51-200")

    got = await api.client.get(f"/v1/companies/{body['id']}", headers=auth)
    assert (got.status_code, got.json(), got.headers["etag"]) == (200, body, '"1"')

    patched = await api.client.patch(
        f"/v1/companies/{body['id']}",
        json={"industry": "Tools", "address": None},
        headers={**auth, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["industry"], patched.json()["address"], patched.json()["version"]) == (
        "Tools",
        None,
        2,
    )
    assert patched.headers["etag"] == '"2"'
    stale = await api.client.patch(
        f"/v1/companies/{body['id']}", json={"industry": "X"}, headers={**auth, "If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "version_conflict")

    deleted = await api.client.delete(
        f"/v1/companies/{body['id']}", headers={**auth, "If-Match": '"2"'}
    )
    assert deleted.status_code == 204
    gone = await api.client.get(f"/v1/companies/{body['id']}", headers=auth)
    assert (gone.status_code, gone.json()["code"]) == (404, "company_not_found")
    topics = await db.fetch(
        "SELECT topic FROM outbox_event WHERE aggregate_id = $1::uuid ORDER BY occurred_at",
        body["id"],
    )
    assert [r["topic"] for r in topics] == ["company.created", "company.updated", "company.deleted"]


async def test_a_domain_taken_in_the_workspace_is_a_409_naming_the_company(
    api: Api, db: asyncpg.Connection
) -> None:
    auth, other = await api.key("A"), await api.key("B")
    first = await create(api, auth)
    taken = await api.client.post(
        "/v1/companies", json={"name": "Acme 2", "domain": "acme.COM"}, headers=auth
    )
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    problem = taken.json()
    assert problem["code"] == "company_domain_taken"
    assert first["id"] in problem["detail"]
    assert problem["errors"][0]["field"] == "/domain"
    second = await create(api, auth, name="Globex", domain="globex.com")
    moved = await api.client.patch(
        f"/v1/companies/{second['id']}", json={"domain": "www.acme.com"}, headers=auth
    )
    assert (moved.status_code, moved.json()["code"]) == (409, "company_domain_taken")
    # Another workspace may have a company with the same domain.
    await create(api, other)
    assert await db.fetchval("SELECT count(*) FROM company WHERE domain = 'acme.com'") == 2


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": "A", "domain": "not a domain"}, "/domain", "invalid_domain"),
        ({"name": "A", "domain": "localhost"}, "/domain", "invalid_domain"),
        ({"name": "A", "size_band": "10-50"}, "/size_band", "enum"),
        ({"name": "A", "country": "UK"}, "/country", "invalid_country"),
        ({"name": "A", "country": "GBR"}, "/country", "string_too_long"),
        ({"name": "A", "website": "ftp://acme.com"}, "/website", "invalid_url"),
        ({"name": "A", "address": {"street": "x"}}, "/address/street", "extra_forbidden"),
        ({"name": "   "}, "/name", "required"),
        ({"domain": "acme.com"}, "/name", "missing"),
        ({"name": "A", "colour": "red"}, "/colour", "extra_forbidden"),
        ({"name": "A", "custom_fields": {"arr": 1}}, "/custom_fields/arr", "unknown_field"),
        (
            {"name": "A", "owner_id": "0190c2a0-0000-7000-8000-000000000000"},
            "/owner_id",
            "owner_not_member",
        ),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: Api, db: asyncpg.Connection, body: dict[str, Any], field: str, code: str
) -> None:
    auth = await api.key()
    response = await api.client.post("/v1/companies", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (
        field,
        code,
    )
    assert await db.fetchval("SELECT count(*) FROM company") == 0


async def test_patch_cannot_clear_the_name(api: Api) -> None:
    auth = await api.key()
    made = await create(api, auth)
    response = await api.client.patch(
        f"/v1/companies/{made['id']}", json={"name": None}, headers=auth
    )
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "/name")


async def test_lists_page_and_filter(api: Api) -> None:
    auth = await api.key()
    ids = [(await create(api, auth, name=f"C{i}", domain=f"c{i}.com"))["id"] for i in range(5)]
    await api.client.patch(f"/v1/companies/{ids[1]}", json={"tags": ["vip"]}, headers=auth)
    await api.client.patch(f"/v1/companies/{ids[2]}", json={"tags": ["vip", "emea"]}, headers=auth)
    first = await api.client.get("/v1/companies", params={"limit": 2}, headers=auth)
    assert [c["id"] for c in first.json()["data"]] == ids[::-1][:2]
    second = await api.client.get(
        "/v1/companies", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=auth
    )
    assert [c["id"] for c in second.json()["data"]] == ids[::-1][2:4]
    oldest = await api.client.get(
        "/v1/companies", params={"limit": 3, "sort": "created_at"}, headers=auth
    )
    assert [c["id"] for c in oldest.json()["data"]] == ids[:3]
    by_domain = await api.client.get(
        "/v1/companies", params={"domain": "https://www.C3.com/"}, headers=auth
    )
    assert [c["id"] for c in by_domain.json()["data"]] == [ids[3]]
    by_tag = await api.client.get("/v1/companies", params={"tag": "VIP"}, headers=auth)
    assert [c["id"] for c in by_tag.json()["data"]] == [ids[2], ids[1]]
    both = await api.client.get("/v1/companies", params={"tag": ["vip", "EMEA"]}, headers=auth)
    assert [c["id"] for c in both.json()["data"]] == [ids[2]]
    nothing = await api.client.get("/v1/companies", params={"domain": "c9.com"}, headers=auth)
    assert nothing.json() == {"data": [], "next_cursor": None}
    bad = await api.client.get("/v1/companies", params={"domain": "??"}, headers=auth)
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (422, "invalid_domain")
    assert bad.json()["errors"][0]["source"] == "query"


async def test_links_primary_rules_and_both_lists(api: Api, db: asyncpg.Connection) -> None:
    auth = await api.key()
    ada, bob = await contact(api, auth, "Ada"), await contact(api, auth, "Bob")
    acme = (await create(api, auth))["id"]
    globex = (await create(api, auth, name="Globex"))["id"]

    first = await api.client.put(link_url(ada, acme), headers=auth)
    assert first.status_code == 201, first.text
    assert first.json()["is_primary"] is True
    assert (first.json()["contact_id"], first.json()["company_id"]) == (ada, acme)
    again = await api.client.put(link_url(ada, acme), json={}, headers=auth)
    assert (again.status_code, again.json()) == (200, first.json())
    second = await api.client.put(link_url(ada, globex), headers=auth)
    assert (second.status_code, second.json()["is_primary"]) == (201, False)
    moved = await api.client.put(link_url(ada, globex), json={"is_primary": True}, headers=auth)
    assert (moved.status_code, moved.json()["is_primary"]) == (200, True)
    await api.client.put(link_url(bob, acme), json={"is_primary": False}, headers=auth)

    mine = await api.client.get(f"/v1/contacts/{ada}/companies", headers=auth)
    assert mine.status_code == 200
    assert [(x["company"]["id"], x["is_primary"]) for x in mine.json()["data"]] == [
        (acme, False),
        (globex, True),
    ]
    assert mine.json()["data"][0]["company"]["domain"] == "acme.com"
    page = await api.client.get(f"/v1/companies/{acme}/contacts", params={"limit": 1}, headers=auth)
    assert [(x["contact"]["id"], x["is_primary"]) for x in page.json()["data"]] == [(ada, False)]
    rest = await api.client.get(
        f"/v1/companies/{acme}/contacts",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=auth,
    )
    assert [x["contact"]["id"] for x in rest.json()["data"]] == [bob]
    assert rest.json()["next_cursor"] is None

    unlinked = await api.client.delete(link_url(ada, globex), headers=auth)
    assert unlinked.status_code == 204
    again_unlinked = await api.client.delete(link_url(ada, globex), headers=auth)
    assert again_unlinked.status_code == 204
    primaries = await db.fetch(
        "SELECT company_id FROM contact_company WHERE contact_id = $1::uuid AND is_primary", ada
    )
    assert primaries == []
    bad = await api.client.put(link_url(ada, acme), json={"is_primary": "maybe"}, headers=auth)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "/is_primary")


async def test_unknown_ids_are_404s(api: Api) -> None:
    auth = await api.key()
    ada, acme = await contact(api, auth), (await create(api, auth))["id"]
    nowhere = "0190c2a0-0000-7000-8000-000000000000"
    for method, url, code in (
        ("PUT", link_url(nowhere, acme), "contact_not_found"),
        ("PUT", link_url(ada, nowhere), "company_not_found"),
        ("DELETE", link_url(ada, nowhere), "company_not_found"),
        ("GET", f"/v1/contacts/{nowhere}/companies", "contact_not_found"),
        ("GET", f"/v1/companies/{nowhere}/contacts", "company_not_found"),
        ("PATCH", f"/v1/companies/{nowhere}", "company_not_found"),
        ("DELETE", f"/v1/companies/{nowhere}", "company_not_found"),
    ):
        body = {"name": "x"} if method == "PATCH" else None
        response = await api.client.request(method, url, json=body, headers=auth)
        assert (response.status_code, response.json()["code"]) == (404, code), url


async def test_links_never_cross_workspaces(api: Api, db: asyncpg.Connection) -> None:
    a, b = await api.key("A"), await api.key("B")
    a_contact, a_company = await contact(api, a), (await create(api, a))["id"]
    b_contact, b_company = await contact(api, b), (await create(api, b))["id"]
    # From B's side, with one id of A's in the path: as if it did not exist.
    for url, code in (
        (link_url(a_contact, b_company), "contact_not_found"),
        (link_url(b_contact, a_company), "company_not_found"),
        (link_url(a_contact, a_company), "contact_not_found"),
    ):
        for method in ("PUT", "DELETE"):
            response = await api.client.request(method, url, headers=b)
            assert (response.status_code, response.json()["code"]) == (404, code), url
    # And from A's side, A's contact with B's company.
    response = await api.client.put(link_url(a_contact, b_company), headers=a)
    assert (response.status_code, response.json()["code"]) == (404, "company_not_found")
    assert await db.fetchval("SELECT count(*) FROM contact_company") == 0
    listed = await api.client.get(f"/v1/contacts/{a_contact}/companies", headers=b)
    assert listed.status_code == 404


async def test_deleting_a_company_unlinks_and_keeps_its_contacts(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    ada = await contact(api, auth)
    acme = (await create(api, auth))["id"]
    globex = (await create(api, auth, name="Globex"))["id"]
    await api.client.put(link_url(ada, acme), headers=auth)
    await api.client.put(link_url(ada, globex), headers=auth)
    before = (await api.client.get(f"/v1/contacts/{ada}", headers=auth)).json()
    assert (await api.client.delete(f"/v1/companies/{acme}", headers=auth)).status_code == 204
    assert (await api.client.get(f"/v1/contacts/{ada}", headers=auth)).json() == before
    left = await api.client.get(f"/v1/contacts/{ada}/companies", headers=auth)
    assert [(x["company"]["id"], x["is_primary"]) for x in left.json()["data"]] == [(globex, False)]
    assert await db.fetchval("SELECT count(*) FROM contact_company") == 1
    # Deleting the contact removes its remaining links, never the company.
    assert (await api.client.delete(f"/v1/contacts/{ada}", headers=auth)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM contact_company") == 0
    assert (await api.client.get(f"/v1/companies/{globex}", headers=auth)).status_code == 200


async def test_scopes_and_roles(api: Api) -> None:
    admin = await api.key()
    contacts_only = await scoped_key(api, admin, "contacts:read", "contacts:write")
    companies_only = await scoped_key(api, admin, "companies:read", "companies:write")
    ada, acme = await contact(api, admin), (await create(api, admin))["id"]
    refused = await api.client.post("/v1/companies", json={"name": "X"}, headers=contacts_only)
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    # Links change the contact: contacts:write links, companies:write does not.
    assert (await api.client.put(link_url(ada, acme), headers=contacts_only)).status_code == 201
    no_link = await api.client.delete(link_url(ada, acme), headers=companies_only)
    assert no_link.status_code == 403
    # Lists of links show both kinds of record: both read scopes are needed.
    for key in (contacts_only, companies_only):
        assert (
            await api.client.get(f"/v1/contacts/{ada}/companies", headers=key)
        ).status_code == 403
        assert (
            await api.client.get(f"/v1/companies/{acme}/contacts", headers=key)
        ).status_code == 403


async def test_members_delete_only_companies_they_own(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    member, member_id = await join(api.client, owner, api.mailbox, role="member")
    theirs = (await create(api, owner))["id"]
    mine = (await create(api, member, name="Mine", owner_id=member_id))["id"]
    refused = await api.client.delete(f"/v1/companies/{theirs}", headers=member)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_forbidden")
    assert (await api.client.delete(f"/v1/companies/{mine}", headers=member)).status_code == 204


async def test_an_owner_from_another_workspace_is_refused(api: Api, db: asyncpg.Connection) -> None:
    a_owner, _ = await owner_of(api.client, "A")
    _, a_member_id = await join(api.client, a_owner, api.mailbox, role="member")
    b_owner, _ = await owner_of(api.client, "B")
    made = await api.client.post(
        "/v1/companies", json={"name": "X", "owner_id": a_member_id}, headers=b_owner
    )
    assert (made.status_code, made.json()["errors"][0]["code"]) == (422, "owner_not_member")
    mine = await create(api, b_owner)
    moved = await api.client.patch(
        f"/v1/companies/{mine['id']}", json={"owner_id": a_member_id}, headers=b_owner
    )
    assert (moved.status_code, moved.json()["errors"][0]["code"]) == (422, "owner_not_member")
    assert await db.fetchval("SELECT count(*) FROM company WHERE owner_id IS NOT NULL") == 0


async def test_archived_custom_fields_are_hidden_in_every_answer_and_kept(api: Api) -> None:
    auth = await api.key()
    field = await api.client.post(
        "/v1/custom-fields",
        json={"object_type": "company", "key": "tier", "label": "Tier", "field_type": "text"},
        headers=auth,
    )
    assert field.status_code == 201, field.text
    company = await create(api, auth, name="Acme", custom_fields={"tier": "gold"})
    assert company["custom_fields"] == {"tier": "gold"}
    url = f"/v1/custom-fields/{field.json()['id']}"
    assert (await api.client.patch(url, json={"archived": True}, headers=auth)).status_code == 200
    patched = await api.client.patch(
        f"/v1/companies/{company['id']}", json={"industry": "Tools"}, headers=auth
    )
    unchanged = await api.client.patch(
        f"/v1/companies/{company['id']}", json={"industry": "Tools"}, headers=auth
    )
    got = await api.client.get(f"/v1/companies/{company['id']}", headers=auth)
    listed = await api.client.get("/v1/companies", headers=auth)
    for answer in (patched.json(), unchanged.json(), got.json(), listed.json()["data"][0]):
        assert answer["custom_fields"] == {}, answer
    assert (await api.client.patch(url, json={"archived": False}, headers=auth)).status_code == 200
    back = await api.client.get(f"/v1/companies/{company['id']}", headers=auth)
    assert back.json()["custom_fields"] == {"tier": "gold"}
