"""Conditional requests (RFC 9110 section 13): `If-None-Match` on reads, `If-Match` on writes.

The ETag of a versioned object is its version, `"3"`, a strong validator.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from crm.domain.errors import DomainError, VersionConflict

_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_TAG_LIST = re.compile(rf"\s*{_ENTITY_TAG}(?:\s*,\s*{_ENTITY_TAG})*\s*")
_EACH_TAG = re.compile(r'(W/)?"([^"]*)"')
_VERSION = re.compile(r"[0-9]{1,18}")


class InvalidIfMatch(DomainError):
    """If-Match is neither `*` nor entity tags (400: the request cannot be read as meant)."""

    code = "invalid_if_match"
    title = "If-Match is malformed"


def not_modified(request: Request, response: Response) -> Response:
    """304 instead of a 200 whose ETag the caller already holds. If-None-Match uses the weak
    comparison (RFC 9110 section 13.1.2): `W/"3"` matches `"3"`, and `*` any version."""
    if response.status_code != 200:
        return response
    # The raw header lists, not `.headers`: this runs on every GET, and most carry no
    # If-None-Match, so the request's list is scanned first and the response's only then.
    asked = _raw_header(request.scope["headers"], b"if-none-match")
    if asked is None:
        return response
    etag = _raw_header(response.raw_headers, b"etag")
    if etag is None:
        return response
    current = etag.removeprefix("W/")
    if asked.strip() != "*" and not any(f'"{m[2]}"' == current for m in _EACH_TAG.finditer(asked)):
        return response
    return Response(status_code=304, headers={"ETag": etag})


def _raw_header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of a header (lower-case name) in an ASGI header list, as latin-1."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def if_match_version(value: str | None) -> int | None:
    """The version an If-Match header names: `"3"` is 3; `*` or no header is unconditional.

    If-Match uses the strong comparison (RFC 9110 section 13.1.1): a weak tag (`W/"3"`) never
    matches, nor does a tag this API never issues, so either is a 412 like a stale version.
    A header that is not entity tags, or names more than one version, is a 400.
    """
    if value is None or value.strip() == "*":
        return None
    if _TAG_LIST.fullmatch(value) is None:
        raise InvalidIfMatch(
            'If-Match takes `*` or the entity tag this API returned in ETag, e.g. `"3"`, '
            f"quotes included; got {value[:64]!r}."
        )
    tags = _EACH_TAG.findall(value)
    versions = {int(tag) for weak, tag in tags if not weak and _VERSION.fullmatch(tag)}
    if len(versions) > 1:
        raise InvalidIfMatch("If-Match may name one version of the resource, not several.")
    if not versions:
        raise VersionConflict(
            "If-Match uses the strong comparison (RFC 9110): a weak tag (W/...) or a tag this "
            'API never issued matches no version; send the ETag as returned, e.g. "3".'
        )
    return versions.pop()
