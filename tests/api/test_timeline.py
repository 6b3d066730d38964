"""Timelines and the audit log end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.people import join, owner_of

Headers = dict[str, str]


async def ok(api: Api, method: str, url: str, auth: Headers, body: Any = None) -> Any:
    sent = await api.client.request(method, url, json=body, headers=auth)
    assert sent.status_code in (200, 201), sent.text
    return sent.json()


async def timeline(api: Api, auth: Headers, url: str, limit: int = 50) -> list[dict[str, Any]]:
    """Every entry, page after page."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = await api.client.get(url, params=params, headers=auth)
        assert page.status_code == 200, page.text
        entries += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return entries


async def test_a_deals_history_newest_first_with_old_and_new_values(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    pipelines = await ok(api, "GET", "/v1/pipelines", auth)
    stages = [s["id"] for s in pipelines["data"][0]["stages"]]
    contact = await ok(api, "POST", "/v1/contacts", auth, {"first_name": "Ada"})
    deal = await ok(api, "POST", "/v1/deals", auth, {"name": "Big one"})
    url = f"/v1/deals/{deal['id']}"
    await ok(api, "PATCH", url, auth, {"name": "Bigger one"})
    await ok(api, "PUT", f"{url}/contacts/{contact['id']}", auth)
    await ok(api, "POST", f"{url}/notes", auth, {"text": "Called."})
    await ok(api, "POST", f"{url}/move", auth, {"stage_id": stages[1]})

    entries = await timeline(api, auth, f"{url}/timeline", limit=2)
    assert [e["topic"] for e in entries] == [
        "deal.moved",
        "note.added",
        "deal.linked",
        "deal.updated",
        "deal.created",
    ]
    assert entries == await timeline(api, auth, f"{url}/timeline")
    moved, noted, linked, updated, _ = entries
    assert updated["changes"] == {"name": {"old": "Big one", "new": "Bigger one"}}
    assert (updated["aggregate_type"], updated["aggregate_id"]) == ("deal", deal["id"])
    assert updated["actor"]["kind"] == "user"
    assert moved["data"]["to_stage_id"] == stages[1]
    assert moved["changes"] is None
    assert noted["data"]["text"] == "Called."
    assert noted["aggregate_type"] == "note"
    linked_at_contact = await timeline(api, auth, f"/v1/contacts/{contact['id']}/timeline")
    assert [e["topic"] for e in linked_at_contact] == ["deal.linked", "contact.created"]
    assert linked["id"] == linked_at_contact[0]["id"]


async def test_contact_and_company_timelines(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    contact = await ok(api, "POST", "/v1/contacts", auth, {"first_name": "Ada"})
    company = await ok(api, "POST", "/v1/companies", auth, {"name": "Acme"})
    await ok(api, "PATCH", f"/v1/contacts/{contact['id']}", auth, {"job_title": "CTO"})
    await ok(api, "PUT", f"/v1/contacts/{contact['id']}/companies/{company['id']}", auth)
    task = await ok(
        api, "POST", "/v1/tasks", auth,
        {"title": "Call", "record_type": "company", "record_id": company["id"]},
    )  # fmt: skip
    await ok(api, "PATCH", f"/v1/tasks/{task['id']}", auth, {"title": "Call back"})
    await ok(api, "POST", f"/v1/tasks/{task['id']}/done", auth)
    company_entries = await timeline(api, auth, f"/v1/companies/{company['id']}/timeline")
    assert [e["topic"] for e in company_entries] == [
        "task.completed",
        "task.updated",
        "task.created",
        "contact.primary_company_changed",
        "contact.company_linked",
        "company.created",
    ]
    assert company_entries[1]["changes"] == {"title": {"old": "Call", "new": "Call back"}}
    contact_entries = await timeline(api, auth, f"/v1/contacts/{contact['id']}/timeline")
    assert contact_entries[-2]["changes"] == {"job_title": {"old": None, "new": "CTO"}}
    gone = await api.client.delete(f"/v1/companies/{company['id']}", headers=auth)
    assert gone.status_code == 204
    after = await timeline(api, auth, f"/v1/contacts/{contact['id']}/timeline")
    assert after[0]["topic"] == "company.deleted"
    assert after[0]["data"]["contact_ids"] == [contact["id"]]
    missing = await api.client.get(f"/v1/companies/{company['id']}/timeline", headers=auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "company_not_found")
    about = await ok(
        api, "GET", f"/v1/audit-events?record_type=company&record_id={company['id']}", auth
    )
    assert about["data"][0]["topic"] == "company.deleted"


async def test_unknown_records_are_404(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    contact = await ok(api, "POST", "/v1/contacts", auth, {"first_name": "Ada"})
    missing = await api.client.get(f"/v1/deals/{contact['id']}/timeline", headers=auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "deal_not_found")
    bad = await api.client.get(
        f"/v1/contacts/{contact['id']}/timeline", params={"cursor": "nope"}, headers=auth
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


async def test_the_audit_log_is_for_admins_and_filters(api: Api) -> None:
    owner, _ = await owner_of(api.client)
    member, member_id = await join(api.client, owner, api.mailbox)
    admin, _ = await join(api.client, owner, api.mailbox, role="admin")
    denied = await api.client.get("/v1/audit-events", headers=member)
    assert (denied.status_code, denied.json()["code"]) == (403, "role_forbidden")
    contact = await ok(api, "POST", "/v1/contacts", member, {"first_name": "Ada"})
    await ok(api, "PATCH", f"/v1/contacts/{contact['id']}", owner, {"last_name": "Lovelace"})

    everything = await timeline(api, admin, "/v1/audit-events", limit=2)
    topics = [e["topic"] for e in everything]
    assert topics[:2] == ["contact.updated", "contact.created"]
    assert "member.joined" in topics
    assert "invitation.created" in topics
    by_member = await ok(api, "GET", f"/v1/audit-events?actor_id={member_id}", admin)
    assert [e["topic"] for e in by_member["data"]] == ["contact.created", "member.joined"]
    about = await ok(
        api, "GET", f"/v1/audit-events?record_type=contact&record_id={contact['id']}", admin
    )
    assert [e["topic"] for e in about["data"]] == ["contact.updated", "contact.created"]
    prefix = await ok(api, "GET", "/v1/audit-events?topic=contact.", admin)
    assert [e["topic"] for e in prefix["data"]] == ["contact.updated", "contact.created"]
    since = everything[0]["occurred_at"]
    latest = await api.client.get("/v1/audit-events", params={"since": since}, headers=admin)
    assert [e["id"] for e in latest.json()["data"]] == [everything[0]["id"]]
    half = await api.client.get(
        "/v1/audit-events", params={"record_id": contact["id"]}, headers=admin
    )
    assert (half.status_code, half.json()["errors"][0]["field"]) == (422, "record_id")
    promoted = await api.client.patch(
        f"/v1/members/{member_id}", json={"role": "admin"}, headers=owner
    )
    assert promoted.status_code == 200, promoted.text
    role = await ok(api, "GET", "/v1/audit-events?topic=member.role_changed", admin)
    assert role["data"][0]["aggregate_id"] == member_id
    assert role["data"][0]["changes"] == {"role": {"old": "member", "new": "admin"}}


async def test_an_api_key_needs_the_admin_scope_and_shows_as_a_key(api: Api) -> None:
    key = await api.key()
    made = await ok(api, "POST", "/v1/contacts", key, {"first_name": "Ada"})
    page = await ok(api, "GET", "/v1/audit-events?topic=contact.created", key)
    assert page["data"][0]["actor"]["kind"] == "api_key"
    assert page["data"][0]["aggregate_id"] == made["id"]
    reader = await ok(
        api, "POST", "/v1/api-keys", key, {"name": "reader", "scopes": ["contacts:read"]}
    )
    as_reader = {"Authorization": f"Bearer {reader['secret']}"}
    denied = await api.client.get("/v1/audit-events", headers=as_reader)
    assert (denied.status_code, denied.json()["code"]) == (403, "insufficient_scope")
    own = await api.client.get(f"/v1/contacts/{made['id']}/timeline", headers=as_reader)
    assert own.status_code == 200


async def test_workspace_b_never_sees_as_events(api: Api) -> None:
    a, _ = await owner_of(api.client, "A")
    b, _ = await owner_of(api.client, "B")
    contact = await ok(api, "POST", "/v1/contacts", a, {"first_name": "Secret"})
    other = await api.client.get(f"/v1/contacts/{contact['id']}/timeline", headers=b)
    assert other.status_code == 404
    seen = await ok(api, "GET", "/v1/audit-events", b)
    assert contact["id"] not in str(seen)
    assert "Secret" not in str(seen)
    about = await ok(
        api, "GET", f"/v1/audit-events?record_type=contact&record_id={contact['id']}", b
    )
    assert about["data"] == []


async def test_a_survivor_keeps_the_merged_contacts_history(api: Api) -> None:
    auth, _ = await owner_of(api.client)
    survivor = await ok(api, "POST", "/v1/contacts", auth, {"first_name": "Ada"})
    source = await ok(api, "POST", "/v1/contacts", auth, {"first_name": "Ada L."})
    await ok(api, "POST", f"/v1/contacts/{source['id']}/notes", auth, {"text": "Met at a fair."})
    merged = await api.client.post(
        f"/v1/contacts/{survivor['id']}/merge", json={"source_id": source["id"]}, headers=auth
    )
    assert merged.status_code == 200, merged.text
    entries = await timeline(api, auth, f"/v1/contacts/{survivor['id']}/timeline")
    topics = [(e["topic"], e["aggregate_id"]) for e in entries]
    assert topics[0] == ("contact.merged", survivor["id"])
    assert ("contact.created", source["id"]) in topics
    assert ("contact.created", survivor["id"]) in topics
    assert "note.added" in {t for t, _ in topics}
    gone = await api.client.get(f"/v1/contacts/{source['id']}/timeline", headers=auth)
    assert (gone.status_code, gone.json()["code"]) == (404, "contact_merged")
    assert gone.json()["merged_into"] == survivor["id"]
