"""CSV imports end to end over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.support.api import Api, running_api, settings_for_tests

CSV = (
    "\ufeffEmail,First,Last,Tier,Labels,Notes\n"
    "ada@example.com,Ada,Lovelace,gold,vip;math,likes engines\n"
    "not-an-email,Bob,Bad,,,\n"
    '"cy@example.com,Cy,"Open,,,\n'
    "dee@example.com,Dee\n"
    "eve@example.com,Eve,E,silver,,\n"
).encode()
MAPPING = {
    "Email": "emails",
    "First": "first_name",
    "Last": "last_name",
    "Tier": "custom_fields.tier",
    "Labels": "tags",
}


async def upload(
    client: httpx.AsyncClient, auth: dict[str, str], data: bytes, **form: Any
) -> httpx.Response:
    fields = {"object_type": "contacts", **form}
    if isinstance(fields.get("mapping"), dict):
        fields["mapping"] = json.dumps(fields["mapping"])
    return await client.post(
        "/v1/imports", data=fields, files={"file": ("leads.csv", data, "text/csv")}, headers=auth
    )


BOUNDARY = "crm-test-boundary"


async def chunked_form(data: bytes) -> AsyncIterator[bytes]:
    """A multipart body sent without Content-Length (chunked), as streaming clients do."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="object_type"\r\n\r\n'
        f'contacts\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    for start in range(0, len(data), 8192):
        yield data[start : start + 8192]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def finished(client: httpx.AsyncClient, auth: dict[str, str], url: str) -> dict[str, Any]:
    """Poll the import until it is done or failed (it runs in this process's event loop)."""
    for _ in range(2000):
        r = await client.get(url, headers=auth)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return dict(r.json())
        await asyncio.sleep(0.01)
    raise AssertionError(f"{url} did not finish: {r.text}")


async def imported(api: Api, auth: dict[str, str], data: bytes, **form: Any) -> dict[str, Any]:
    started = await upload(api.client, auth, data, **form)
    assert started.status_code == 202, started.text
    return await finished(api.client, auth, started.headers["location"])


async def tier_field(api: Api, auth: dict[str, str]) -> None:
    body = {"object_type": "contact", "key": "tier", "label": "Tier", "field_type": "text"}
    made = await api.client.post("/v1/custom-fields", json=body, headers=auth)
    assert made.status_code == 201, made.text


async def contacts_by_email(api: Api, auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    r = await api.client.get("/v1/contacts?limit=200", headers=auth)
    assert r.status_code == 200, r.text
    return {c["emails"][0]: c for c in r.json()["data"] if c["emails"]}


async def test_good_rows_are_imported_and_bad_ones_are_downloadable_with_reasons(
    api: Api,
) -> None:
    auth = await api.key()
    await tier_field(api, auth)
    started = await upload(api.client, auth, CSV, mapping=MAPPING)
    assert started.status_code == 202, started.text
    body = started.json()
    assert started.headers["location"] == f"/v1/imports/{body['id']}"
    assert body["status"] in ("queued", "running", "done")
    assert body["ignored_columns"] == ["Notes"]

    job = await finished(api.client, auth, started.headers["location"])
    assert job["status"] == "done", job
    assert job["progress"] == {
        "rows_total": 5,
        "rows_done": 5,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "skipped_reasons": {"existing_record": 0, "blank_row": 0},
        "failed": 3,
        "failed_rows_dropped": 0,
    }
    assert job["file_name"] == "leads.csv"
    assert job["finished_at"] is not None
    contacts = await contacts_by_email(api, auth)
    assert set(contacts) == {"ada@example.com", "eve@example.com"}
    ada = contacts["ada@example.com"]
    assert (ada["first_name"], ada["tags"], ada["custom_fields"]) == (
        "Ada",
        ["vip", "math"],
        {"tier": "gold"},
    )

    failed = await api.client.get(f"{started.headers['location']}/failed-rows", headers=auth)
    assert failed.status_code == 200, failed.text
    assert failed.headers["content-type"].startswith("text/csv")
    assert "attachment" in failed.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(failed.text)))
    assert rows[0] == [
        "line",
        "code",
        "message",
        "Email",
        "First",
        "Last",
        "Tier",
        "Labels",
        "Notes",
    ]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("3", "validation_failed"),
        ("4", "malformed_row"),
        ("5", "wrong_cell_count"),
    ]
    assert "not-an-email" in rows[1][2]
    assert rows[1][3:5] == ["not-an-email", "Bob"]


async def test_dedupe_skip_update_and_create(api: Api) -> None:
    auth = await api.key()
    mapping = {"Email": "emails", "First": "first_name"}
    first = await imported(api, auth, b"Email,First\nada@example.com,Ada\n", mapping=mapping)
    assert first["progress"]["created"] == 1
    again = b"Email,First\nADA@example.com,Augusta\nbob@example.com,Bob\n"

    skipped = await imported(api, auth, again + b",\n\n", mapping=mapping, dedupe="skip")
    progress = skipped["progress"]
    assert (progress["rows_total"], progress["rows_done"], progress["created"]) == (4, 4, 1)
    assert progress["skipped"] == 3
    assert progress["skipped_reasons"] == {"existing_record": 1, "blank_row": 2}
    assert (await contacts_by_email(api, auth))["ada@example.com"]["first_name"] == "Ada"

    updated = await imported(api, auth, again, mapping=mapping, dedupe="update")
    assert (updated["progress"]["updated"], updated["progress"]["unchanged"]) == (1, 1)
    assert (await contacts_by_email(api, auth))["ada@example.com"]["first_name"] == "Augusta"

    created = await imported(api, auth, again, mapping=mapping, dedupe="create")
    assert (created["progress"]["created"], created["progress"]["failed"]) == (0, 2)
    failed = await api.client.get(f"/v1/imports/{created['id']}/failed-rows", headers=auth)
    assert [r[1] for r in csv.reader(io.StringIO(failed.text))][1:] == ["contact_email_taken"] * 2
    assert len(await contacts_by_email(api, auth)) == 2


async def test_companies_match_on_their_domain(api: Api) -> None:
    auth = await api.key()
    data = b"name,domain,City\nAcme,acme.example,Paris\nAcme again,https://www.ACME.example/,Lyon\n"
    job = await imported(api, auth, data, object_type="companies", mapping={"City": "address.city"})
    assert (job["progress"]["created"], job["progress"]["skipped"]) == (1, 1), job
    r = await api.client.get("/v1/companies", headers=auth)
    assert [(c["name"], c["address"]["city"]) for c in r.json()["data"]] == [("Acme", "Paris")]


async def test_a_bad_request_is_a_422_naming_what_is_wrong_and_nothing_starts(api: Api) -> None:
    auth = await api.key()
    cases: list[tuple[bytes, dict[str, Any], list[tuple[str, str]]]] = [
        (
            b"Email\na@x.io\n",
            {"mapping": {"Mail": "emails"}},
            [("/mapping/Mail", "unknown_column")],
        ),
        (b"Email\na@x.io\n", {"mapping": {"Email": "shoe"}}, [("/mapping/Email", "unknown_field")]),
        (b"Email\na@x.io\n", {"mapping": "[1, 2]"}, [("/mapping", "invalid_mapping")]),
        (b"Email\na@x.io\n", {"object_type": "llamas"}, [("/object_type", "enum")]),
        (b"Email\na@x.io\n", {"dedupe": "merge"}, [("/dedupe", "enum")]),
        (b"", {}, [("/file", "empty_file")]),
        (b"\x89PNG\r\n\x1a\n\x00", {}, [("/file", "not_csv")]),
    ]
    for data, form, errors in cases:
        r = await upload(api.client, auth, data, **form)
        assert r.status_code == 422, (form, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert set(errors) <= {(e["field"], e["code"]) for e in r.json()["errors"]}, r.text
    missing = await api.client.post("/v1/imports", data={"object_type": "contacts"}, headers=auth)
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["/file"]
    assert await contacts_by_email(api, auth) == {}


async def test_imports_have_their_own_body_limit(database_url: str, redis_url: str) -> None:
    settings = settings_for_tests(
        database_url, redis_url, max_body_bytes=4096, import_max_bytes=64 * 1024
    )
    async with running_api(settings) as api:
        auth = await api.key()
        big = b"Email,Notes\n" + b"a@x.io," + b"x" * 20_000 + b"\n"
        # Over the JSON routes' limit, within the imports' one: it reaches the import.
        accepted = await upload(api.client, auth, big, mapping={"Email": "shoe"})
        assert accepted.status_code == 422, accepted.text
        too_big = await upload(api.client, auth, big * 4)
        assert too_big.status_code == 413, too_big.text
        assert too_big.json()["code"] == "payload_too_large"
        assert str(64 * 1024) in too_big.json()["detail"]
        streamed = await api.client.post(
            "/v1/imports",
            content=chunked_form(big * 4),
            headers={**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert (streamed.status_code, streamed.json()["code"]) == (413, "payload_too_large")


async def test_any_api_process_reads_the_progress_from_redis(
    api: Api, database_url: str, redis_url: str
) -> None:
    auth = await api.key()
    job = await imported(api, auth, b"Email\nada@example.com\nbob@example.com\n")
    async with running_api(settings_for_tests(database_url, redis_url)) as other:
        seen = await other.client.get(f"/v1/imports/{job['id']}", headers=auth)
        assert seen.status_code == 200, seen.text
        assert seen.json() == job
        rows = await other.client.get(f"/v1/imports/{job['id']}/failed-rows", headers=auth)
        assert rows.text == "line,code,message,Email\r\n"


async def test_writing_needs_the_write_scope_and_reading_the_read_scope(api: Api) -> None:
    auth = await api.key()
    job = await imported(api, auth, b"Email\nada@example.com\n")
    keys = {}
    for scope in ("contacts:read", "companies:write"):
        made = await api.client.post(
            "/v1/api-keys", json={"name": scope, "scopes": [scope]}, headers=auth
        )
        keys[scope] = {"Authorization": f"Bearer {made.json()['secret']}"}
    refused = await upload(api.client, keys["contacts:read"], b"Email\nbob@example.com\n")
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    read = await api.client.get(f"/v1/imports/{job['id']}", headers=keys["contacts:read"])
    assert read.status_code == 200
    blind = await api.client.get(f"/v1/imports/{job['id']}", headers=keys["companies:write"])
    assert (blind.status_code, blind.json()["code"]) == (403, "insufficient_scope")
    assert set(await contacts_by_email(api, auth)) == {"ada@example.com"}


async def test_a_retried_upload_with_its_idempotency_key_starts_one_import(api: Api) -> None:
    # A client's retry draws a new multipart boundary: still the same request.
    auth = {**await api.key(), "Idempotency-Key": "import-1"}
    first = await upload(api.client, auth, b"Email\nada@example.com\n")
    again = await upload(api.client, auth, b"Email\nada@example.com\n")
    assert first.request.headers["content-type"] != again.request.headers["content-type"]
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await upload(api.client, auth, b"Email\nbob@example.com\n")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    await finished(api.client, auth, first.headers["location"])
    assert set(await contacts_by_email(api, auth)) == {"ada@example.com"}


async def test_imports_are_listed_newest_first_a_page_at_a_time_per_workspace(api: Api) -> None:
    auth, other = await api.key(), await api.key("Other")
    ids = []
    for n in range(3):
        ids.append((await imported(api, auth, f"Email\nu{n}@example.com\n".encode()))["id"])
    data = b"name,domain\nAcme,acme.example\n"
    ids.append((await imported(api, auth, data, object_type="companies"))["id"])
    await imported(api, other, b"Email\nx@example.com\n")
    seen, url = [], "/v1/imports?limit=3"
    while True:
        page = await api.client.get(url, headers=auth)
        assert page.status_code == 200, page.text
        seen += page.json()["data"]
        if page.json()["next_cursor"] is None:
            break
        url = f"/v1/imports?limit=3&cursor={page.json()['next_cursor']}"
    assert [job["id"] for job in seen] == ids[::-1]
    assert seen[0] == (await api.client.get(f"/v1/imports/{ids[-1]}", headers=auth)).json()
    made = await api.client.post(
        "/v1/api-keys", json={"name": "r", "scopes": ["contacts:read"]}, headers=auth
    )
    reader = {"Authorization": f"Bearer {made.json()['secret']}"}
    contacts_only = await api.client.get("/v1/imports", headers=reader)
    assert [job["id"] for job in contacts_only.json()["data"]] == ids[2::-1]
    bad = await api.client.get("/v1/imports?cursor=nope", headers=auth)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")
