"""Conditional requests, swept over every operation the document marks as conditional.

Reads that send an ETag answer If-None-Match (weak comparison, `*` too) with 304 and the
ETag; writes that take If-Match refuse a malformed one with 400 and a weak or stale one with
412 (strong comparison), and leave the record unchanged.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from crm.entrypoints.cli import openapi_text
from tests.api.test_isolation import BODIES, FACTORIES, WorkspaceA
from tests.support.api import Api
from tests.support.openapi_lint import operations
from tests.support.people import owner_of

MERGES = {
    "/v1/contacts/{contact_id}/merge": "contact_id",
    "/v1/companies/{company_id}/merge": "company_id",
}


async def _world(api: Api, wanted: set[str]) -> tuple[WorkspaceA, dict[str, str]]:
    """A workspace and one object of each kind the paths name."""
    name = f"Cond-{uuid.uuid4().hex[:6]}"
    owner, workspace_id = await owner_of(api.client, name)
    a = WorkspaceA(owner, workspace_id, name)
    missing = wanted - set(FACTORIES)
    assert not missing, f"no factory makes {missing}: add one to tests/api/test_isolation.py"
    return a, {param: (await FACTORIES[param](api, a)).id for param in wanted}


def _url(path: str, ids: dict[str, str]) -> str:
    for param, value in ids.items():
        path = path.replace("{" + param + "}", value)
    return path


def _params(path: str) -> set[str]:
    return {part[1:-1] for part in path.split("/") if part.startswith("{")}


async def test_every_read_with_an_etag_answers_if_none_match_with_304(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    reads = [(path, op) for path, method, op in operations(doc) if "304" in op["responses"]]
    assert {op["operationId"] for _, op in reads} >= {
        "getContact", "getCompany", "getDeal", "getNote", "getTask", "getPipeline",
        "getCustomField", "getTag",
    }  # fmt: skip
    a, ids = await _world(api, {p for path, _ in reads for p in _params(path)})
    owner = a.owner
    wrong: list[str] = []
    for path, op in reads:
        url = _url(path, ids)
        first = await api.client.get(url, headers=owner)
        etag = first.headers["etag"]
        for asked, status in (
            (etag, 304),
            (f"W/{etag}", 304),
            ("*", 304),
            (f'"999999", {etag}', 304),
            ('"999999"', 200),
            ("not a tag", 200),
        ):
            r = await api.client.get(url, headers={**owner, "If-None-Match": asked})
            got = (r.status_code, r.headers.get("etag"), r.content if status == 304 else b"")
            if got != (status, etag, b""):
                wrong.append(f"{op['operationId']} If-None-Match {asked}: {got}")
    assert wrong == []


async def test_lists_ignore_if_none_match(api: Api) -> None:
    auth = await api.key()
    r = await api.client.get("/v1/contacts", headers={**auth, "If-None-Match": "*"})
    assert r.status_code == 200
    assert "etag" not in r.headers


def _if_match_writes(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, method, op in operations(doc)
        if any(p["name"].lower() == "if-match" for p in op.get("parameters", []))
    ]


async def test_a_malformed_if_match_is_400_and_a_weak_or_stale_one_412(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    writes = _if_match_writes(doc)
    assert len(writes) >= 10
    a, ids = await _world(api, {p for path, _, _ in writes for p in _params(path)})
    owner = a.owner
    # A merge checks the version once it holds both records: give it a real source.
    sources = {path: (await FACTORIES[kind](api, a)).id for path, kind in MERGES.items()}
    wrong: list[str] = []
    for path, method, op in writes:
        url = _url(path, ids)
        body = BODIES.get(f"{method.upper()} {path}")
        if path in sources:
            body = {"source_id": sources[path]}
        for sent, status, code in (
            ("3", 400, "invalid_if_match"),
            ('"3', 400, "invalid_if_match"),
            ('"1", "2"', 400, "invalid_if_match"),
            ('W/"1"', 412, "version_conflict"),
            ('"abc"', 412, "version_conflict"),
            ('"999999"', 412, "version_conflict"),
        ):
            headers = {**owner, "If-Match": sent}
            r = await api.client.request(method.upper(), url, headers=headers, json=body)
            got = (r.status_code, r.json().get("code"))
            if got != (status, code):
                wrong.append(f"{op['operationId']} If-Match {sent}: {got}")
    assert wrong == []


async def test_the_current_strong_etag_still_writes(api: Api) -> None:
    auth = await api.key()
    made = await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=auth)
    url, etag = f"/v1/contacts/{made.json()['id']}", made.headers["etag"]
    r = await api.client.patch(url, json={"first_name": "Bo"}, headers={**auth, "If-Match": etag})
    assert (r.status_code, r.headers["etag"]) == (200, '"2"')
    r = await api.client.patch(url, json={"first_name": "Cy"}, headers={**auth, "If-Match": "*"})
    assert r.status_code == 200


def test_the_document_says_how_each_header_compares() -> None:
    for path, method, op in operations(json.loads(openapi_text())):
        headers = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
        if "If-Match" in headers:
            assert "strong" in headers["If-Match"]["description"], (method, path)
            assert "invalid_if_match" in op["responses"]["400"]["description"], (method, path)
        if "If-None-Match" in headers:
            assert "weak" in headers["If-None-Match"]["description"], (method, path)
            assert op["responses"]["304"]["headers"]["ETag"], (method, path)
