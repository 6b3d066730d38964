"""What the route table answers for a request no route serves.

A method the path does not take is a 405 whose `Allow` lists the path's methods, exactly as
the OpenAPI document does (HEAD and OPTIONS are never served, so never listed); an id that
is not a UUID is a 422 naming it; anything else is the router's 404. The gateway asks
`refusal` only before answering an authentication problem (so the 405 comes with or without
credentials, and says nothing the public document does not), the router calls `not_found`
only when no route matched: a request a route serves never reaches either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.routing import PARAM_REGEX, BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from crm.entrypoints.api.lean import IdConvertor
from crm.entrypoints.api.problems import problem_response

METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")
_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)


@dataclass(frozen=True, slots=True)
class _Path:
    format: str
    exact: re.Pattern[str]
    # The path with any segment where a parameter stands (`/v1/contacts/42` has this shape).
    shape: re.Pattern[str]
    methods: frozenset[str]
    ids: tuple[str, ...]


class RouteTable:
    def __init__(self, routes: Iterable[BaseRoute], default: ASGIApp) -> None:
        by_format: dict[str, list[Route]] = {}
        for route in routes:
            if isinstance(route, Route) and route.methods:
                by_format.setdefault(route.path_format, []).append(route)
        self.paths = tuple(_path(fmt, found) for fmt, found in by_format.items())
        self._default = default

    def methods(self, path: str) -> frozenset[str] | None:
        """The methods served at `path`, or None where no route has its shape."""
        found = [p for p in self.paths if p.exact.match(path)]
        found = found or [p for p in self.paths if p.shape.fullmatch(path)]
        return frozenset().union(*(p.methods for p in found)) if found else None

    def refusal(self, scope: Scope) -> ASGIApp | None:
        """A 405 when the path exists and does not take the method, else None."""
        allowed = self.methods(scope["path"])
        if allowed is None or scope["method"] in allowed:
            return None
        return method_not_allowed(scope, allowed)

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The router's default: 405, 422 for a malformed id, or the router's own 404."""
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            self._check_ids(scope["path"])
        await self._default(scope, receive, send)

    def _check_ids(self, path: str) -> None:
        for candidate in self.paths:
            match = candidate.shape.fullmatch(path)
            if match is None:
                continue
            errors = [e for name in candidate.ids for e in _uuid_errors(name, match[name])]
            if errors:
                raise RequestValidationError(errors)


def method_not_allowed(scope: Scope, allowed: Iterable[str]) -> ASGIApp:
    allow = ", ".join(m for m in METHOD_ORDER if m in set(allowed))
    return problem_response(
        scope,
        405,
        "method_not_allowed",
        "Method not allowed on this route",
        f"{scope['path']} accepts {allow}.",
        headers={"Allow": allow},
    )


def _path(path_format: str, routes: list[Route]) -> _Path:
    first = routes[0]
    ids = tuple(n for n, c in first.param_convertors.items() if isinstance(c, IdConvertor))
    shape, at = "", 0
    for param in PARAM_REGEX.finditer(path_format):
        shape += re.escape(path_format[at : param.start()]) + f"(?P<{param[1]}>[^/]+)"
        at = param.end()
    shape += re.escape(path_format[at:])
    methods = frozenset(m for r in routes for m in r.methods or ()) - {"HEAD"}
    return _Path(path_format, first.path_regex, re.compile(shape), methods, ids)


def _uuid_errors(name: str, value: str) -> list[dict[str, Any]]:
    try:
        _UUID.validate_python(value)
    except ValidationError as e:
        return [{**err, "loc": ("path", name)} for err in e.errors(include_url=False)]
    return []
