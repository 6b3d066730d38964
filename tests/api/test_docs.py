"""Swagger UI works offline and the document names every operation properly."""

from __future__ import annotations

import re

from tests.support.api import Api


async def test_swagger_ui_is_served_from_bundled_assets(api: Api) -> None:
    page = await api.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert (await api.client.get(asset)).status_code == 200
    assert "cdn.jsdelivr" not in page.text
    assert (await api.client.get("/redoc")).status_code == 200


async def test_operations_have_ids_tags_and_problem_responses(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}
    assert {"createContact", "getContact", "listContacts", "updateContact", "deleteContact"} <= set(
        ops
    )
    for op_id, op in ops.items():
        assert re.fullmatch(r"[a-z][a-zA-Z]+", op_id)
        assert len(op["tags"]) == 1
        assert op["summary"]
        for status, response in op["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
    assert {"Contact", "ContactCreate", "ContactUpdate", "ContactPage", "Problem"} <= set(
        doc["components"]["schemas"]
    )
    assert not [name for name in doc["components"]["schemas"] if name.startswith("Body_")]
    assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert ops["getHealth"]["security"] == []
