"""Request bodies as a client writes them: one name for a field both ways, and searches and
exports that need no body at all."""

from __future__ import annotations

import json

from crm.entrypoints.cli import openapi_text
from tests.support.api import Api
from tests.support.openapi_lint import operations


def test_the_link_options_use_the_names_the_link_answers_with() -> None:
    schemas = json.loads(openapi_text())["components"]["schemas"]
    sent, answered = schemas["CompanyLinkOptions"], schemas["CompanyLink"]
    assert set(sent["properties"]) <= set(answered["properties"])
    for name in sent["properties"]:
        assert sent["properties"][name]["description"]


async def test_linking_takes_and_answers_is_primary(api: Api) -> None:
    auth = await api.key()
    ada = (await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=auth)).json()
    one = (await api.client.post("/v1/companies", json={"name": "One"}, headers=auth)).json()
    two = (await api.client.post("/v1/companies", json={"name": "Two"}, headers=auth)).json()
    base = f"/v1/contacts/{ada['id']}/companies"
    first = await api.client.put(f"{base}/{one['id']}", headers=auth)
    assert (first.status_code, first.json()["is_primary"]) == (201, True)
    second = await api.client.put(f"{base}/{two['id']}", json={"is_primary": True}, headers=auth)
    assert (second.status_code, second.json()["is_primary"]) == (201, True)
    # The response's own body, sent back, is a request that changes nothing.
    again = await api.client.put(
        f"{base}/{two['id']}", json={"is_primary": second.json()["is_primary"]}, headers=auth
    )
    assert (again.status_code, again.json()) == (200, second.json())
    old = await api.client.put(f"{base}/{one['id']}", json={"primary": True}, headers=auth)
    assert old.status_code == 422
    assert [(e["field"], e["code"]) for e in old.json()["errors"]] == [
        ("/primary", "extra_forbidden")
    ]


async def test_searches_and_exports_need_no_body(api: Api) -> None:
    doc = json.loads(openapi_text())
    ops = [
        (path, op)
        for path, method, op in operations(doc)
        if method == "post" and path.endswith(("/search", "/export"))
    ]
    assert {path.split("/")[2] for path, _ in ops} == {"contacts", "companies", "deals"}
    assert len(ops) == 6
    auth = await api.key()
    await api.client.post("/v1/contacts", json={"first_name": "Ada"}, headers=auth)
    await api.client.post("/v1/companies", json={"name": "Acme"}, headers=auth)
    for path, op in ops:
        assert op["requestBody"].get("required", False) is False, path
        bare = await api.client.post(path, headers=auth)
        empty = await api.client.post(path, json={}, headers=auth)
        assert bare.status_code == 200, (path, bare.text)
        assert (empty.status_code, bare.headers["content-type"]) == (
            200,
            empty.headers["content-type"],
        )
        if path.endswith("/search"):
            assert bare.json() == empty.json(), path
        else:
            assert bare.text == empty.text, path
