"""Field rules for companies: each normalizes one raw value or says precisely what is wrong."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crm.domain.model.contact_rules import RuleBroken, text
from crm.domain.model.countries import ISO_3166_ALPHA_2
from crm.domain.model.text import has_control_characters

MAX_DOMAIN = 253
MAX_URL = 2048
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ADDRESS_FIELDS = {"line1": 200, "line2": 200, "city": 100, "region": 100, "postal_code": 20}


class SizeBand(enum.StrEnum):
    """Head count, in the bands sales teams segment by."""

    XS = "1-10"
    S = "11-50"
    M = "51-200"
    L = "201-500"
    XL = "501-1000"
    XXL = "1001-5000"
    HUGE = "5001+"


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address; every part optional, at least one present (else no address)."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None


def normalize_domain(value: str) -> str | None:
    """`https://WWW.Bücher.de:443/about` → `xn--bcher-kva.de`; None when it is no domain."""
    host = value.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    for separator in "/?#":
        host = host.split(separator, 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    host = host.removeprefix("www.")
    if not host or has_control_characters(host):
        return None
    try:
        # The stdlib codec (IDNA 2003, with its nameprep mapping) keeps the core stdlib-only.
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    valid = (
        len(ascii_host) <= MAX_DOMAIN
        and len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )
    return ascii_host if valid else None


def domain(value: Any) -> str | None:
    if value is None:
        return None
    normalized = normalize_domain(str(value))
    if normalized is None:
        raise RuleBroken("invalid_domain", f"{value!r} is not a domain name, e.g. acme.com")
    return normalized


def size_band(value: Any) -> SizeBand | None:
    if value is None:
        return None
    try:
        return SizeBand(value)
    except ValueError:
        allowed = ", ".join(s.value for s in SizeBand)
        raise RuleBroken("invalid_choice", f"one of: {allowed}") from None


def country(value: Any) -> str | None:
    if value is None:
        return None
    code = str(value).strip().upper()
    if code not in ISO_3166_ALPHA_2:
        raise RuleBroken("invalid_country", f"{value!r} is not an ISO 3166-1 alpha-2 code, e.g. GB")
    return code


def website(value: Any) -> str | None:
    if value is None:
        return None
    url = str(value).strip()
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:
        scheme, host = "", None
    if (
        len(url) > MAX_URL
        or any(c.isspace() for c in url)
        or has_control_characters(url)
        or scheme not in ("http", "https")
        or not host
    ):
        raise RuleBroken("invalid_url", f"{value!r} is not an http(s) URL")
    return url


def address(value: Mapping[str, Any] | None) -> Address | None:
    if value is None:
        return None
    parts: dict[str, str | None] = {}
    for name, raw in value.items():
        limit = _ADDRESS_FIELDS.get(name)
        if limit is None:
            raise RuleBroken("unknown_field", "not an address field", f"/{name}")
        try:
            parts[name] = text(limit)(raw)
        except RuleBroken as broken:
            raise RuleBroken(broken.code, broken.message, f"/{name}") from None
    found = Address(**parts)
    return found if any(parts.values()) else None
