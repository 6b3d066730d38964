"""/v1/api-keys: credentials for integrations, with scopes; the secret is shown once."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm.bootstrap import Container
from crm.domain.use_cases.manage_api_keys import CreateApiKeyCommand, RevokeApiKeyCommand
from crm.entrypoints.api.deps import principal, problems
from crm.entrypoints.api.lean import LeanRoute
from crm.entrypoints.api.routers.workspaces import Cursor, Limit, page_request
from crm.entrypoints.api.schemas import people as s
from crm.entrypoints.api.views import api_key_dict, json_response, page_of


def build(c: Container) -> APIRouter:
    r = APIRouter(prefix="/v1/api-keys", tags=["api-keys"], route_class=LeanRoute)

    @r.post(
        "",
        status_code=201,
        response_model=s.ApiKeyCreated,
        operation_id="createApiKey",
        summary="Create an API key",
        description=c.create_api_key.__doc__,
        responses=problems(400, 409, 413, 415, 422),
    )
    async def create_api_key(body: s.ApiKeyCreate, request: Request) -> Response:
        p = principal(request)
        cmd = CreateApiKeyCommand(
            p.workspace_id, body.name, frozenset(body.scopes), body.expires_at, principal=p
        )
        key, secret = await c.create_api_key.execute(cmd)
        headers = {"Location": f"/v1/api-keys/{key.id}"}
        return json_response({**api_key_dict(key), "secret": secret}, 201, headers)

    @r.get(
        "",
        response_model=s.ApiKeyPage,
        operation_id="listApiKeys",
        summary="List API keys",
        description=c.list_api_keys.__doc__,
        responses=problems(422),
    )
    async def list_api_keys(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Response:
        page = await c.list_api_keys.execute(principal(request), page_request(limit, cursor))
        return page_of(page, api_key_dict)

    @r.get(
        "/{key_id}",
        response_model=s.ApiKey,
        operation_id="getApiKey",
        summary="Get an API key",
        description=c.get_api_key.__doc__,
        responses=problems(404, 422),
    )
    async def get_api_key(key_id: UUID, request: Request) -> Response:
        return json_response(api_key_dict(await c.get_api_key.execute(principal(request), key_id)))

    @r.delete(
        "/{key_id}",
        status_code=204,
        operation_id="revokeApiKey",
        summary="Revoke an API key",
        description=c.revoke_api_key.__doc__,
        responses=problems(404, 422),
    )
    async def revoke_api_key(key_id: UUID, request: Request) -> Response:
        p = principal(request)
        await c.revoke_api_key.execute(RevokeApiKeyCommand(p.workspace_id, key_id, principal=p))
        return Response(status_code=204)

    return r
