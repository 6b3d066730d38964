"""The CSV import's inputs that reach the database: every form field of POST /v1/imports
(swept from the document's multipart schema), the mapping's JSON, and the cells of the file."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx

from tests.api.test_imports import finished
from tests.support.api import Api
from tests.support.sweep import document, operations, with_nul

BASE_FORM = {
    "object_type": "contacts",
    "mapping": json.dumps({"Email": "emails", "First": "first_name"}),
    "dedupe": "skip",
    "match_on": "email",
}
CSV = b"Email,First\nada@example.com,Ada\n"
BOUNDARY = "sweep-boundary"


def _form_schema() -> dict[str, Any]:
    doc = document()
    op = next(op for op in operations(doc) if op.id == "createImport")
    schema = op.body_schema("multipart/form-data")
    assert schema is not None
    return dict(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])


def multipart(fields: dict[str, str], file_name: str, data: bytes) -> bytes:
    """A form written out by hand: httpx would percent-encode a control character in a file
    name, and the point is to send one."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{file_name}"\r\nContent-Type: text/csv\r\n\r\n'
    )
    return ("".join(parts) + head).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


async def post_form(
    client: httpx.AsyncClient, auth: dict[str, str], fields: dict[str, str], file_name: str
) -> httpx.Response:
    body = multipart(fields, file_name, CSV)
    headers = {**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return await client.post("/v1/imports", content=body, headers=headers)


def _fields(r: httpx.Response) -> list[str]:
    return [e["field"] for e in r.json().get("errors", [])]


async def test_a_nul_in_any_form_field_or_the_file_name_is_refused(api: Api) -> None:
    auth = await api.key()
    properties = _form_schema()["properties"]
    assert set(properties) == {*BASE_FORM, "file"}, "give the new form field a valid value"
    failures = []
    for name in BASE_FORM:
        r = await post_form(api.client, auth, {**BASE_FORM, name: with_nul(BASE_FORM[name])}, "a")
        if r.status_code != 422 or f"/{name}" not in _fields(r):
            failures.append(f"{name}: {r.status_code} {r.text[:300]}")
    r = await post_form(api.client, auth, BASE_FORM, "lead\x00s.csv")
    if r.status_code != 422 or "/file" not in _fields(r):
        failures.append(f"file name: {r.status_code} {r.text[:300]}")
    assert not failures, "\n".join(failures)
    ok = await post_form(api.client, auth, BASE_FORM, "leads.csv")
    assert ok.status_code == 202, ok.text


async def test_a_mapping_with_a_nul_or_nested_too_deep_is_refused(api: Api) -> None:
    auth = await api.key()
    mappings = {
        "NUL in a column": json.dumps({"Em\x00ail": "emails"}),
        "NUL in a field": json.dumps({"Email": "emai\x00ls"}),
        "nested lists": '{"Email": ' + "[" * 5000 + "]" * 5000 + "}",
        "nested objects": '{"a": ' * 5000 + "null" + "}" * 5000,
    }
    for label, mapping in mappings.items():
        assert len(mapping) <= 100_000  # under the field's limit: the parser is what is tried
        r = await post_form(api.client, auth, {**BASE_FORM, "mapping": mapping}, "leads.csv")
        assert r.status_code == 422, f"{label}: {r.status_code} {r.text[:300]}"
        assert _fields(r) == ["/mapping"], f"{label}: {r.text[:300]}"


async def test_cells_holding_a_nul_or_a_time_utc_cannot_hold_fail_alone(api: Api) -> None:
    auth = await api.key()
    field = {"object_type": "contact", "key": "met_at", "label": "Met", "field_type": "datetime"}
    made = await api.client.post("/v1/custom-fields", json=field, headers=auth)
    assert made.status_code == 201, made.text
    rows = [
        ["Email", "First", "Title", "Met", "Tags"],
        ["ok@example.com", "Ok", "CEO", "2030-01-02T03:04:05+02:00", "vip"],
        ["nul-name@example.com", "N\x00", "", "", ""],
        ["nul-title@example.com", "T", "C\x00O", "", ""],
        ["nul-tag@example.com", "T", "", "", "v\x00p"],
        ["nul-email\x00@example.com", "E", "", "", ""],
        ["early@example.com", "Early", "", "0001-01-01T00:00:00+14:00", ""],
        ["late@example.com", "Late", "", "9999-12-31T23:59:59-14:00", ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    mapping = {"Email": "emails", "First": "first_name", "Title": "job_title"}
    mapping |= {"Met": "custom_fields.met_at", "Tags": "tags"}
    fields = {**BASE_FORM, "mapping": json.dumps(mapping)}
    files = {"file": ("cells.csv", out.getvalue().encode(), "text/csv")}
    started = await api.client.post("/v1/imports", data=fields, files=files, headers=auth)
    assert started.status_code == 202, started.text
    job = await finished(api.client, auth, started.headers["location"])
    assert job["status"] == "done", job
    assert (job["progress"]["created"], job["progress"]["failed"]) == (1, 6), job
    failed = await api.client.get(started.headers["location"] + "/failed-rows", headers=auth)
    found = {row["line"]: row for row in csv.DictReader(io.StringIO(failed.text))}
    assert sorted(found) == ["3", "4", "5", "6", "7", "8"], failed.text
    # The file reader refuses a row holding a NUL before any field rule sees it.
    assert {found[line]["code"] for line in "3456"} == {"nul_character"}, failed.text
    for line in "78":
        assert found[line]["code"] == "validation_failed", failed.text
        assert "/custom_fields/met_at" in found[line]["message"], failed.text
        assert "out of range" in found[line]["message"], failed.text
