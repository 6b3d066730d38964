"""LeanRoute serves what FastAPI declares, with FastAPI's validation semantics, or refuses to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import httpx
import orjson
import pytest
import pytest_asyncio
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm.entrypoints.api import errors
from crm.entrypoints.api.lean import LeanRoute


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=10)]
    stars: int = 0


async def current_user() -> str:
    return "someone"


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type="application/json")


def build_app() -> FastAPI:
    r = APIRouter(route_class=LeanRoute)

    @r.get("/things/{thing_id}", operation_id="getThing")
    async def get_thing(
        thing_id: int,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=5)] = 2,
        order: Literal["asc", "desc"] = "asc",
        x_trace: Annotated[str | None, Header()] = None,
    ) -> Response:
        return _json(
            {
                "id": thing_id,
                "limit": limit,
                "order": order,
                "trace": x_trace,
                "path": request.url.path,
            }
        )

    @r.post("/notes", status_code=201, operation_id="createNote")
    async def create_note(note: Note) -> Response:
        return _json(note.model_dump(), 201)

    @r.get("/tagged", operation_id="listTagged")
    async def tagged(
        tag: Annotated[list[Annotated[str, Field(max_length=5)]] | None, Query()] = None,
    ) -> Response:
        return _json({"tag": tag})

    @r.get("/broken", operation_id="getBroken")
    async def broken() -> dict[str, str]:
        return {"not": "a response"}

    app = FastAPI()
    errors.install(app)
    app.router.routes.extend(r.routes)
    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://lean.test") as c:
        yield c


async def test_parameters_are_validated_once_with_their_declared_types_and_defaults(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/things/7", params={"limit": "3"}, headers={"X-Trace": "t-1"})
    assert r.json() == {"id": 7, "limit": 3, "order": "asc", "trace": "t-1", "path": "/things/7"}
    assert (await client.get("/things/8")).json()["limit"] == 2


async def test_every_bad_parameter_is_reported_with_its_source(client: httpx.AsyncClient) -> None:
    r = await client.get("/things/x", params={"limit": "9", "order": "up"})
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "validation_failed"
    found = {(e["source"], e["field"], e["code"]) for e in problem["errors"]}
    assert found == {
        ("path", "thing_id", "int_parsing"),
        ("query", "limit", "less_than_equal"),
        ("query", "order", "literal_error"),
    }


async def test_the_body_is_validated_from_json_in_one_pass(client: httpx.AsyncClient) -> None:
    r = await client.post("/notes", json={"text": "hi", "stars": 2})
    assert (r.status_code, r.json()) == (201, {"text": "hi", "stars": 2})
    bad = await client.post("/notes", json={"text": "", "stars": "many", "color": "red"})
    assert bad.status_code == 422
    fields = {(e["field"], e["code"]) for e in bad.json()["errors"]}
    assert fields == {
        ("/text", "string_too_short"),
        ("/stars", "int_parsing"),
        ("/color", "extra_forbidden"),
    }


async def test_a_missing_body_malformed_json_and_the_wrong_media_type(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.post("/notes")
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (422, "missing")
    malformed = await client.post(
        "/notes", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "malformed_json")
    form = await client.post("/notes", data={"text": "hi"})
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    assert form.headers["content-type"] == "application/problem+json"


async def test_an_endpoint_that_does_not_serialize_its_response_is_a_500(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/broken")
    assert (r.status_code, r.json()["code"]) == (500, "internal_error")


def test_what_a_lean_route_cannot_serve_is_refused_when_the_route_is_built() -> None:
    r = APIRouter(route_class=LeanRoute)

    with pytest.raises(TypeError, match="dependencies"):

        @r.get("/with-dependency")
        async def with_dependency(who: Annotated[str, Depends(current_user)]) -> Response:
            return Response()

    with pytest.raises(TypeError, match="list parameter"):

        @r.get("/with-list-header")
        async def with_list(x_tags: Annotated[list[str], Header()]) -> Response:
            return Response()


async def test_a_repeated_query_parameter_is_a_list(client: httpx.AsyncClient) -> None:
    assert (await client.get("/tagged")).json() == {"tag": None}
    assert (await client.get("/tagged?tag=a")).json() == {"tag": ["a"]}
    assert (await client.get("/tagged?tag=a&tag=b")).json() == {"tag": ["a", "b"]}
    long = await client.get("/tagged?tag=a&tag=toolong")
    assert long.status_code == 422
    assert long.json()["errors"][0]["field"] == "tag.1"


def test_the_declaration_still_documents_the_operation() -> None:
    spec = build_app().openapi()
    get = spec["paths"]["/things/{thing_id}"]["get"]
    assert [(p["in"], p["name"]) for p in get["parameters"]] == [
        ("path", "thing_id"),
        ("query", "limit"),
        ("query", "order"),
        ("header", "x-trace"),
    ]
    body = spec["paths"]["/notes"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Note"}
