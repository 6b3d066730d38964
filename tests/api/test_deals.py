"""Pipelines, stages and deals end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.support.api import Api
from tests.support.people import join, owner_of

Headers = dict[str, str]


async def default_pipeline(api: Api, auth: Headers) -> dict[str, Any]:
    r = await api.client.get("/v1/pipelines", headers=auth)
    assert r.status_code == 200, r.text
    return next(p for p in r.json()["data"] if p["is_default"])


async def create_deal(api: Api, auth: Headers, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Acme renewal")
    r = await api.client.post("/v1/deals", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def move(api: Api, auth: Headers, deal_id: str, stage_id: str) -> Any:
    return await api.client.post(
        f"/v1/deals/{deal_id}/move", json={"stage_id": stage_id}, headers=auth
    )


async def test_the_deal_journey(api: Api, db: asyncpg.Connection) -> None:
    auth = await api.key()
    sales = await default_pipeline(api, auth)
    stages = [s["id"] for s in sales["stages"]]
    assert [s["name"] for s in sales["stages"]][:2] == ["Appointment scheduled", "Qualified to buy"]
    made = await api.client.post(
        "/v1/deals",
        json={"name": "Acme", "amount_minor": 1250000, "currency": "eur", "tags": ["Renewal"]},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    deal = made.json()
    assert made.headers["location"] == f"/v1/deals/{deal['id']}"
    assert made.headers["etag"] == '"1"'
    assert (deal["pipeline_id"], deal["stage_id"], deal["status"], deal["closed_at"]) == (
        sales["id"],
        stages[0],
        "open",
        None,
    )
    assert (deal["amount_minor"], deal["currency"], deal["tags"]) == (1250000, "EUR", ["renewal"])
    got = await api.client.get(f"/v1/deals/{deal['id']}", headers=auth)
    assert (got.status_code, got.json()) == (200, deal)

    won = await move(api, auth, deal["id"], stages[5])
    assert won.status_code == 200, won.text
    assert (won.json()["status"], won.json()["version"]) == ("won", 2)
    assert won.json()["closed_at"] is not None
    reopened = await move(api, auth, deal["id"], stages[1])
    assert (reopened.json()["status"], reopened.json()["closed_at"]) == ("open", None)
    same = await move(api, auth, deal["id"], stages[1])
    assert same.json()["version"] == 3

    history = await api.client.get(
        f"/v1/deals/{deal['id']}/stage-history", params={"limit": 2}, headers=auth
    )
    assert history.status_code == 200
    rows = history.json()["data"]
    assert [(h["from_stage_id"], h["to_stage_id"]) for h in rows] == [
        (None, stages[0]),
        (stages[0], stages[5]),
    ]
    rest = await api.client.get(
        f"/v1/deals/{deal['id']}/stage-history",
        params={"cursor": history.json()["next_cursor"]},
        headers=auth,
    )
    assert [(h["from_stage_id"], h["to_stage_id"]) for h in rest.json()["data"]] == [
        (stages[5], stages[1])
    ]
    assert rest.json()["next_cursor"] is None

    patched = await api.client.patch(
        f"/v1/deals/{deal['id']}",
        json={"amount_minor": None, "currency": None, "expected_close_date": "2027-03-31"},
        headers={**auth, "If-Match": '"3"'},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["amount_minor"], patched.json()["expected_close_date"]) == (
        None,
        "2027-03-31",
    )
    stale = await api.client.delete(f"/v1/deals/{deal['id']}", headers={**auth, "If-Match": '"3"'})
    assert (stale.status_code, stale.json()["code"]) == (412, "version_conflict")
    gone = await api.client.delete(f"/v1/deals/{deal['id']}", headers={**auth, "If-Match": '"4"'})
    assert gone.status_code == 204
    missing = await api.client.get(f"/v1/deals/{deal['id']}", headers=auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "deal_not_found")
    assert await db.fetchval("SELECT count(*) FROM deal_stage_history") == 0
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox_event ORDER BY id")]
    assert topics == ["deal.created", "deal.moved", "deal.moved", "deal.updated", "deal.deleted"]


async def test_bad_deals_are_named_problems(api: Api) -> None:
    auth = await api.key()
    other = await default_pipeline(api, await api.key("Other"))
    cases = [
        ({"name": "x", "amount_minor": 5}, "/currency", "amount_needs_currency"),
        ({"name": "x", "amount_minor": 5, "currency": "ABC"}, "/currency", "invalid_currency"),
        ({"name": "x", "pipeline_id": other["id"]}, "/pipeline_id", "not_in_pipeline"),
        ({"name": "x", "stage_id": other["stages"][0]["id"]}, "/stage_id", "not_in_pipeline"),
        ({"name": "x", "stage_id": str(uuid.uuid4())}, "/stage_id", "not_in_pipeline"),
        (
            {"name": "x", "amount_minor": -1, "currency": "EUR"},
            "/amount_minor",
            "greater_than_equal",
        ),
        ({"name": "x", "status": "won"}, "/status", "extra_forbidden"),
        ({"name": ""}, "/name", "string_too_short"),
    ]
    for body, field, code in cases:
        r = await api.client.post("/v1/deals", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [(field, code)], body
    listed = await api.client.get("/v1/deals", headers=auth)
    assert listed.json()["data"] == []


async def test_moving_to_a_stage_of_another_pipeline_is_a_422(api: Api) -> None:
    auth = await api.key()
    created = await api.client.post(
        "/v1/pipelines",
        json={"name": "Renewals", "stages": [{"name": "Up"}, {"name": "Done", "kind": "won"}]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/pipelines/{created.json()['id']}"
    deal = await create_deal(api, auth)
    theirs = (await default_pipeline(api, await api.key("B")))["stages"][1]["id"]
    for stage_id in (created.json()["stages"][0]["id"], theirs):
        r = await move(api, auth, deal["id"], stage_id)
        assert (r.status_code, r.json()["code"]) == (422, "stage_not_in_pipeline")
    again = await api.client.get(f"/v1/deals/{deal['id']}", headers=auth)
    assert again.json() == deal


async def test_list_deals_pages_and_filters(api: Api) -> None:
    auth = await api.key()
    sales = await default_pipeline(api, auth)
    won = sales["stages"][5]["id"]
    ids = [(await create_deal(api, auth, name=f"D{i}"))["id"] for i in range(3)]
    closed = await create_deal(api, auth, stage_id=won)
    first = await api.client.get("/v1/deals", params={"limit": 3}, headers=auth)
    assert [d["id"] for d in first.json()["data"]] == [closed["id"], *ids[::-1][:2]]
    rest = await api.client.get(
        "/v1/deals", params={"limit": 3, "cursor": first.json()["next_cursor"]}, headers=auth
    )
    assert ([d["id"] for d in rest.json()["data"]], rest.json()["next_cursor"]) == ([ids[0]], None)
    by_stage = await api.client.get("/v1/deals", params={"stage_id": won}, headers=auth)
    assert [d["id"] for d in by_stage.json()["data"]] == [closed["id"]]
    by_status = await api.client.get(
        "/v1/deals", params={"status": "open", "sort": "created_at"}, headers=auth
    )
    assert [d["id"] for d in by_status.json()["data"]] == ids
    by_pipeline = await api.client.get(
        "/v1/deals", params={"pipeline_id": sales["id"], "status": "won"}, headers=auth
    )
    assert [d["id"] for d in by_pipeline.json()["data"]] == [closed["id"]]
    tagged = await create_deal(api, auth, tags=["VIP", "emea"])
    await create_deal(api, auth, tags=["vip"])
    both = await api.client.get("/v1/deals", params={"tag": ["Vip", "EMEA"]}, headers=auth)
    assert [d["id"] for d in both.json()["data"]] == [tagged["id"]]
    bad = await api.client.get("/v1/deals", params={"status": "maybe"}, headers=auth)
    assert bad.status_code == 422


async def test_the_summary_counts_and_sums_per_stage_and_currency(api: Api) -> None:
    auth = await api.key()
    sales = await default_pipeline(api, auth)
    for amount, currency in ((1000, "EUR"), (2500, "EUR"), (999, "USD"), (None, None)):
        await create_deal(api, auth, amount_minor=amount, currency=currency)
    await create_deal(api, auth, stage_id=sales["stages"][5]["id"], amount_minor=10, currency="JPY")
    r = await api.client.get(f"/v1/pipelines/{sales['id']}/summary", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pipeline_id"] == sales["id"]
    first, *others = body["stages"]
    assert (first["stage_id"], first["deal_count"], first["probability"]) == (
        sales["stages"][0]["id"],
        4,
        20,
    )
    assert first["totals"] == [
        {"currency": "EUR", "deal_count": 2, "amount_minor": 3500, "weighted_amount_minor": 700},
        {"currency": "USD", "deal_count": 1, "amount_minor": 999, "weighted_amount_minor": 200},
    ]
    assert [(s["deal_count"], s["totals"]) for s in others] == [(0, [])] * 4 + [
        (
            1,
            [{"currency": "JPY", "deal_count": 1, "amount_minor": 10, "weighted_amount_minor": 10}],
        ),
        (0, []),
    ]
    nowhere = await api.client.get(f"/v1/pipelines/{uuid.uuid4()}/summary", headers=auth)
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "pipeline_not_found")


async def test_pipelines_and_stages_over_http(api: Api, db: asyncpg.Connection) -> None:
    auth = await api.key()
    created = await api.client.post(
        "/v1/pipelines",
        json={"name": "Renewals", "stages": [{"name": "Up", "probability": 30}]},
        headers=auth,
    )
    pipeline = created.json()
    pid = pipeline["id"]
    added = await api.client.post(
        f"/v1/pipelines/{pid}/stages",
        json={"name": "Renewed", "kind": "won", "position": 0},
        headers=auth,
    )
    assert added.status_code == 201, added.text
    assert (added.json()["position"], added.json()["probability"]) == (0, 100)
    ids = [added.json()["id"], pipeline["stages"][0]["id"]]
    reordered = await api.client.put(
        f"/v1/pipelines/{pid}/stages/order", json={"stage_ids": ids[::-1]}, headers=auth
    )
    assert reordered.status_code == 200, reordered.text
    assert [s["id"] for s in reordered.json()["stages"]] == ids[::-1]
    bad = await api.client.put(
        f"/v1/pipelines/{pid}/stages/order", json={"stage_ids": ids[:1]}, headers=auth
    )
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (422, "missing_stages")
    positions = await db.fetch(
        "SELECT id::text, position FROM pipeline_stage WHERE pipeline_id = $1 ORDER BY position",
        uuid.UUID(pid),
    )
    assert [(r["id"], r["position"]) for r in positions] == [(ids[1], 0), (ids[0], 1)]
    renamed = await api.client.patch(
        f"/v1/pipelines/{pid}",
        json={"name": "Renewals 2027", "is_default": True},
        headers={**auth, "If-Match": reordered.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["is_default"]) == ("Renewals 2027", True)
    defaults = await db.fetchval("SELECT count(*) FROM pipeline WHERE is_default")
    assert defaults == 1
    patched = await api.client.patch(
        f"/v1/pipelines/{pid}/stages/{ids[1]}", json={"probability": 45}, headers=auth
    )
    assert (patched.status_code, patched.json()["probability"]) == (200, 45)
    undeletable = await api.client.delete(f"/v1/pipelines/{pid}", headers=auth)
    assert (undeletable.status_code, undeletable.json()["code"]) == (
        409,
        "default_pipeline_required",
    )


async def test_a_stage_with_deals_is_deleted_only_moving_them_in_one_call(
    api: Api, db: asyncpg.Connection
) -> None:
    auth = await api.key()
    sales = await default_pipeline(api, auth)
    first, second = sales["stages"][0]["id"], sales["stages"][1]["id"]
    deal = await create_deal(api, auth)
    url = f"/v1/pipelines/{sales['id']}/stages/{first}"
    held = await api.client.delete(url, headers=auth)
    assert (held.status_code, held.json()["code"]) == (409, "stage_has_deals")
    theirs = (await default_pipeline(api, await api.key("B")))["stages"][1]["id"]
    for target in (theirs, first, str(uuid.uuid4())):
        r = await api.client.delete(url, params={"move_deals_to": target}, headers=auth)
        assert (r.status_code, r.json()["code"]) == (422, "stage_not_in_pipeline")
    assert await db.fetchval("SELECT count(*) FROM pipeline_stage WHERE id = $1", uuid.UUID(first))
    done = await api.client.delete(url, params={"move_deals_to": second}, headers=auth)
    assert done.status_code == 204, done.text
    moved = (await api.client.get(f"/v1/deals/{deal['id']}", headers=auth)).json()
    assert (moved["stage_id"], moved["version"]) == (second, 2)
    history = await db.fetch(
        "SELECT from_stage_id::text, to_stage_id::text FROM deal_stage_history"
        " ORDER BY moved_at, id"
    )
    assert [tuple(r) for r in history] == [(None, first), (first, second)]
    after = await api.client.get(f"/v1/pipelines/{sales['id']}", headers=auth)
    assert next(s["id"] for s in after.json()["stages"]) == second
    assert [s["position"] for s in after.json()["stages"]] == list(range(6))


async def test_links_between_deals_contacts_and_companies(api: Api, db: asyncpg.Connection) -> None:
    auth, other = await api.key(), await api.key("B")
    deal = await create_deal(api, auth)
    ada = (await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=auth)).json()
    acme = (await api.client.post("/v1/companies", json={"name": "Acme"}, headers=auth)).json()
    eve = (await api.client.post("/v1/contacts", json={"first_name": "Eve"}, headers=other)).json()
    base = f"/v1/deals/{deal['id']}"
    for status in (201, 200):
        linked = await api.client.put(f"{base}/contacts/{ada['id']}", headers=auth)
        assert linked.status_code == status, linked.text
        assert (linked.json()["deal_id"], linked.json()["contact_id"]) == (deal["id"], ada["id"])
        linked = await api.client.put(f"{base}/companies/{acme['id']}", headers=auth)
        assert linked.status_code == status, linked.text
        assert linked.json()["company_id"] == acme["id"]
    assert await db.fetchval("SELECT count(*) FROM deal_contact") == 1
    foreign = await api.client.put(f"{base}/contacts/{eve['id']}", headers=auth)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "contact_not_found")
    nowhere = await api.client.put(f"{base}/companies/{uuid.uuid4()}", headers=auth)
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "company_not_found")

    contacts = (await api.client.get(f"{base}/contacts", headers=auth)).json()
    assert [(x["contact"]["id"], x["contact"]["first_name"]) for x in contacts["data"]] == [
        (ada["id"], "Ada")
    ]
    companies = (await api.client.get(f"{base}/companies", headers=auth)).json()
    assert [x["company"]["name"] for x in companies["data"]] == ["Acme"]
    of_contact = (await api.client.get(f"/v1/contacts/{ada['id']}/deals", headers=auth)).json()
    assert [x["deal"]["id"] for x in of_contact["data"]] == [deal["id"]]
    of_company = (await api.client.get(f"/v1/companies/{acme['id']}/deals", headers=auth)).json()
    assert [x["deal"]["id"] for x in of_company["data"]] == [deal["id"]]
    hidden = await api.client.get(f"/v1/contacts/{ada['id']}/deals", headers=other)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "contact_not_found")

    for _ in range(2):
        r = await api.client.delete(f"{base}/contacts/{ada['id']}", headers=auth)
        assert r.status_code == 204
    assert (await api.client.get(f"{base}/contacts", headers=auth)).json()["data"] == []
    gone = await api.client.delete(f"/v1/companies/{acme['id']}", headers=auth)
    assert gone.status_code == 204
    assert (await api.client.get(f"{base}/companies", headers=auth)).json()["data"] == []
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox_event ORDER BY id")]
    assert topics.count("deal.linked") == 2
    assert topics.count("deal.unlinked") == 1


async def test_link_lists_page_by_link_time(api: Api) -> None:
    auth = await api.key()
    deal = await create_deal(api, auth)
    ids = []
    for i in range(3):
        c = await api.client.post("/v1/contacts", json={"first_name": f"C{i}"}, headers=auth)
        ids.append(c.json()["id"])
    for cid in ids[::-1]:
        await api.client.put(f"/v1/deals/{deal['id']}/contacts/{cid}", headers=auth)
    first = await api.client.get(
        f"/v1/deals/{deal['id']}/contacts", params={"limit": 2}, headers=auth
    )
    rest = await api.client.get(
        f"/v1/deals/{deal['id']}/contacts",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=auth,
    )
    seen = [x["contact"]["id"] for x in first.json()["data"] + rest.json()["data"]]
    assert (seen, rest.json()["next_cursor"]) == (ids[::-1], None)


async def test_members_work_deals_but_only_admins_shape_pipelines(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    member, _ = await join(api.client, owner, api.mailbox, role="member")
    sales = await default_pipeline(api, member)
    refused = await api.client.patch(
        f"/v1/pipelines/{sales['id']}", json={"name": "Mine"}, headers=member
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "role_forbidden")
    theirs = await create_deal(api, owner)
    own = await create_deal(api, member)
    assert (await move(api, member, theirs["id"], sales["stages"][2]["id"])).status_code == 200
    no = await api.client.delete(f"/v1/deals/{theirs['id']}", headers=member)
    assert (no.status_code, no.json()["code"]) == (403, "role_forbidden")
    assert own["owner_id"] is None
    key = await api.client.post(
        "/v1/api-keys", json={"name": "reader", "scopes": ["contacts:read"]}, headers=owner
    )
    reader = {"Authorization": f"Bearer {key.json()['secret']}"}
    assert (await api.client.get(f"/v1/pipelines/{sales['id']}", headers=reader)).status_code == 200
    denied = await api.client.get("/v1/deals", headers=reader)
    assert (denied.status_code, denied.json()["code"]) == (403, "insufficient_scope")


async def test_custom_fields_follow_the_deal_definitions_and_archiving(api: Api) -> None:
    auth = await api.key()
    made = await api.client.post(
        "/v1/custom-fields",
        json={
            "object_type": "deal",
            "key": "source",
            "label": "Source",
            "field_type": "multi_select",
            "options": [{"value": "web", "label": "Web"}, {"value": "event", "label": "Event"}],
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    unknown = await api.client.post(
        "/v1/deals", json={"name": "x", "custom_fields": {"plan": "pro"}}, headers=auth
    )
    assert [(e["field"], e["code"]) for e in unknown.json()["errors"]] == [
        ("/custom_fields/plan", "unknown_field")
    ]
    deal = await create_deal(api, auth, custom_fields={"source": ["web", "event"]})
    assert deal["custom_fields"] == {"source": ["web", "event"]}
    wrong = await api.client.patch(
        f"/v1/deals/{deal['id']}", json={"custom_fields": {"source": ["tv"]}}, headers=auth
    )
    assert wrong.json()["errors"][0]["code"] == "unknown_option"
    archived = await api.client.patch(
        f"/v1/custom-fields/{made.json()['id']}", json={"archived": True}, headers=auth
    )
    assert archived.status_code == 200, archived.text
    got = await api.client.get(f"/v1/deals/{deal['id']}", headers=auth)
    assert got.json()["custom_fields"] == {}
    stages = (await default_pipeline(api, auth))["stages"]
    moved = await move(api, auth, deal["id"], stages[1]["id"])
    assert moved.json()["custom_fields"] == {}
    restored = await api.client.patch(
        f"/v1/custom-fields/{made.json()['id']}", json={"archived": False}, headers=auth
    )
    assert restored.status_code == 200
    kept = await api.client.get(f"/v1/deals/{deal['id']}", headers=auth)
    assert kept.json()["custom_fields"] == {"source": ["web", "event"]}
