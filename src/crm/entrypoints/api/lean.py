"""`LeanRoute`: FastAPI declares the operation, a lean handler serves it.

FastAPI's per-request machinery (dependency solving, one validation per parameter, response
model re-validation) costs as much as the work of a hot read. A `LeanRoute` keeps everything
FastAPI derives from the endpoint's signature (OpenAPI, path matching, the parameter and body
types with their constraints), but serves each request with one pydantic validation of all
the parameters and one `validate_json` of the body, then calls the endpoint, which returns a
ready `Response` (serialized once). Errors are FastAPI's own `RequestValidationError`, with
the same `loc` (`("query", "limit")`, `("body", "emails", 0)`), so the problem handlers treat
both kinds of route alike.

Supported endpoint parameters: path, query and header parameters of scalar types, at most
one JSON body, and `request: Request`. Anything else (dependencies, cookies, forms, list
query parameters) is refused when the route is built, never silently ignored.

A path parameter typed `UUID` matches only a UUID-shaped segment (the `id` convertor), so an
id never swallows a literal sibling: `/v1/invitations/accept` is not an invitation id. The
OpenAPI path stays `{invitation_id}`. A GET whose response carries an ETag answers 304 to an
If-None-Match naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from crm.entrypoints.api.conditional import not_modified
from crm.entrypoints.api.inputs import nul_in_body, nul_in_parameters, per_item_fields

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_JSON_TYPES = ("application/json", "application/problem+json")


class IdConvertor(Convertor[str]):
    """A UUID in any form pydantic reads (any case, with or without hyphens, braces or the
    `urn:uuid:` prefix); pydantic still parses it."""

    regex = "(?:urn:uuid:)?[{]?" + "-?".join(f"[0-9A-Fa-f]{{{n}}}" for n in (8, 4, 4, 4, 12))
    regex += "[}]?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


class LeanRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self._handler: Handler | None = None
        super().__init__(path, endpoint, **kwargs)
        _match_ids_only(self)
        # FastAPI wraps the handler in exit stacks for `yield` dependencies, which a lean
        # route refuses to have; exceptions go straight to the app's handlers.
        self.app = _asgi(self.get_route_handler())

    def get_route_handler(self) -> Handler:
        # APIRoute's constructor asks for it too: the plan (a pydantic model per route) is
        # compiled once, not twice.
        if self._handler is None:
            self._handler = self._compile()
        return self._handler

    def _compile(self) -> Handler:
        plan = _Plan(self)
        endpoint = self.endpoint
        conditional = "GET" in (self.methods or ())

        async def handler(request: Request) -> Response:
            response = await endpoint(**await plan.arguments(request))
            if not isinstance(response, Response):
                raise TypeError(f"{self.name} must return a Response (serialize once)")
            return not_modified(request, response) if conditional else response

        return handler


def _match_ids_only(route: APIRoute) -> None:
    """Recompile the path with the `id` convertor for its UUID parameters."""
    ids = {p.alias for p in route.dependant.path_params if p.field_info.annotation is UUID}
    if not ids:
        return
    typed = re.sub(r"{(\w+)}", lambda m: f"{{{m[1]}:id}}" if m[1] in ids else m[0], route.path)
    # `path` stays as declared (and documented); matching and url_path_for use the rest.
    route.path_regex, route.path_format, route.param_convertors = compile_path(typed)


def _asgi(handler: Handler) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class _Plan:
    """What one route needs from a request, compiled once when the route is built."""

    def __init__(self, route: APIRoute) -> None:
        d = route.dependant
        unsupported = [
            name
            for name, present in (
                ("dependencies", d.dependencies),
                ("cookie parameters", d.cookie_params),
                ("a response parameter", d.response_param_name),
                ("background tasks", d.background_tasks_param_name),
                ("security scopes", d.security_scopes_param_name),
                ("a websocket", d.websocket_param_name),
                ("more than one body parameter", len(d.body_params) > 1),
            )
            if present
        ]
        if unsupported:
            raise TypeError(f"LeanRoute {route.name} cannot serve {', '.join(unsupported)}")
        self.request_param = d.request_param_name
        self.path = [p.alias for p in d.path_params]
        self.query = [p.alias for p in d.query_params]
        self.header = [p.alias for p in d.header_params]
        self.source = {
            **{p.alias: "path" for p in d.path_params},
            **{p.alias: "query" for p in d.query_params},
            **{p.alias: "header" for p in d.header_params},
        }
        # Repeated query parameters (`?tag=a&tag=b`) arrive as lists; nothing else may be one.
        self.query_lists = frozenset(p.alias for p in d.query_params if _is_sequence(p))
        fields: dict[str, Any] = {}
        for p in (*d.path_params, *d.query_params, *d.header_params):
            if _is_sequence(p) and p.alias not in self.query_lists:
                raise TypeError(f"LeanRoute {route.name}: list parameter {p.name} unsupported")
            info = p.field_info
            default = ... if info.is_required() else info.default
            # FastAPI sets a header's alias after the fact; pydantic needs it declared.
            fields[p.name] = (Annotated[info.annotation, info, Field(alias=p.alias)], default)
        self.params: type[BaseModel] = create_model(
            f"{route.unique_id}Parameters",
            __config__=ConfigDict(extra="ignore"),
            **fields,
        )
        self.body: tuple[str, TypeAdapter[Any], bool] | None = None
        if d.body_params:
            body = d.body_params[0]
            adapter: TypeAdapter[Any] = TypeAdapter(body.field_info.annotation or Any)
            self.body = (body.name, adapter, body.field_info.is_required())
            self.per_item = per_item_fields(body.field_info.annotation)

    async def arguments(self, request: Request) -> dict[str, Any]:
        raw = self._raw_parameters(request)
        errors: list[Mapping[str, Any]] = []
        values: dict[str, Any] = {}
        try:
            # The model is thrown away: its field dict is ours (much cheaper than dict(model)).
            values = vars(self.params.model_validate(raw))
        except ValidationError as e:
            errors.extend(self._located(e.errors(include_url=False)))
        errors.extend(nul_in_parameters(raw, self.source))
        if self.body is not None:
            name, adapter, required = self.body
            body_errors, values[name] = await _read_body(request, adapter, required)
            errors.extend(body_errors)
            errors.extend(nul_in_body(await request.body(), self.per_item))
        if errors:
            raise RequestValidationError(errors)
        if self.request_param:
            values[self.request_param] = request
        return values

    def _raw_parameters(self, request: Request) -> dict[str, Any]:
        raw: dict[str, Any] = {alias: request.path_params[alias] for alias in self.path}
        if self.query:
            query, lists = request.query_params, self.query_lists
            raw.update(
                (alias, query.getlist(alias) if alias in lists else query[alias])
                for alias in self.query
                if alias in query
            )
        if self.header:
            headers = request.headers
            raw.update((alias, headers[alias]) for alias in self.header if alias in headers)
        return raw

    def _located(self, errors: list[Any]) -> list[Mapping[str, Any]]:
        return [{**error, "loc": (self.source[error["loc"][0]], *error["loc"])} for error in errors]


def _is_sequence(param: Any) -> bool:
    """A parameter typed as a list (or an optional list, `list[str] | None`)."""
    annotation = param.field_info.annotation
    candidates = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    return any(
        get_origin(a) in (list, tuple, set, frozenset) or a in (list, tuple, set, frozenset)
        for a in (annotation, *candidates)
    )


async def _read_body(
    request: Request, adapter: TypeAdapter[Any], required: bool
) -> tuple[list[Mapping[str, Any]], Any]:
    body = await request.body()
    if not body:
        if not required:
            return [], None
        return [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}], None
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in _JSON_TYPES:
        raise HTTPException(415, f"Send the body as application/json, not {media_type!r}.")
    try:
        return [], adapter.validate_json(body)
    except ValidationError as e:
        return [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)], None
