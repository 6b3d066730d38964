"""Where webhooks may go: the URL rules and the addresses a delivery must never reach (SSRF).

A subscription's URL is checked when it is saved, and the address every delivery connects to
is checked again when it connects (a name may resolve elsewhere by then): loopback, private,
link-local, multicast, unspecified, reserved and shared (CGNAT) addresses, IPv6 forms that
embed one of those (IPv4-mapped, 6to4, Teredo, NAT64) and the cloud metadata addresses are
refused unless private targets are allowed (tests, a closed network).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from crm.domain.errors import FieldError, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2048
_METADATA: Final = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_SHARED: Final = ipaddress.ip_network("100.64.0.0/10")
_PROTOCOL: Final = ipaddress.ip_network("192.0.0.0/24")
"""IETF protocol assignments: never a web server (the standard library calls a few global)."""
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class WebhookUrlRefused(InvalidInput):
    """A URL webhooks may not be sent to (an internal address, plain http in production, a
    name that does not resolve)."""

    code = "webhook_url_refused"
    title = "Webhooks cannot be sent to this URL"

    @classmethod
    def because(cls, reason: str, why: str) -> WebhookUrlRefused:
        return cls(f"Webhooks cannot be sent to this URL: {why}.", errors=(_url(reason, why),))


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    """A checked URL: `host` in ASCII (IDNA), without brackets for IPv6 literals."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def literal(self) -> IPAddress | None:
        """The address itself when the host is an IP literal."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def refusal(address: IPAddress) -> str | None:
    """Why no webhook may reach `address` (e.g. "a loopback address"), or None when it is a
    public unicast address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded) or (None if embedded.is_global else "a non-public address")
    if address in _METADATA:
        return "the cloud metadata address"
    for test, what in _KINDS:
        if test(address):
            return what
    return None


_KINDS = (
    (lambda a: a.is_loopback, "a loopback address"),
    (lambda a: a.is_unspecified, "the unspecified address"),
    (lambda a: a.is_link_local, "a link-local address"),
    (lambda a: a.is_multicast, "a multicast address"),
    (lambda a: isinstance(a, ipaddress.IPv4Address) and a in _SHARED, "a shared (CGNAT) address"),
    (lambda a: isinstance(a, ipaddress.IPv4Address) and a in _PROTOCOL, "a reserved address"),
    (lambda a: a.is_private, "a private address"),
    (lambda a: a.is_reserved, "a reserved address"),
    (lambda a: not a.is_global, "a non-public address"),
)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """`allow_private`: deliver to any address (tests, closed networks); `allow_http`: accept
    plain http (development, or where private targets are allowed)."""

    allow_private: bool = False
    allow_http: bool = False

    def check_url(self, raw: str) -> WebhookUrl:
        """The URL checked and normalized; 422 naming what is wrong. An IP literal is checked
        here; a name is resolved and checked by the caller (`check_address`)."""
        target = parse_url(raw)
        if target.scheme == "http" and not (self.allow_http or self.allow_private):
            raise WebhookUrlRefused.because("https_required", "webhook URLs must use https")
        literal = target.literal
        if literal is not None:
            self.check_address(target.host, literal)
        return target

    def check_address(self, host: str, address: IPAddress) -> None:
        """WebhookUrlRefused when `host`'s resolved `address` is one no webhook may reach."""
        why = None if self.allow_private else refusal(address)
        if why is not None:
            shown = host if host == str(address) else f"{host} resolves to {address}, which"
            raise WebhookUrlRefused.because("address_refused", f"{shown} is {why}")


def parse_url(raw: str) -> WebhookUrl:
    """An absolute http(s) URL with a host, no user info, no fragment; the host in ASCII."""
    if len(raw) > MAX_URL or _CONTROL.search(raw):
        raise _invalid(f"an absolute http(s) URL of at most {MAX_URL} characters, no spaces")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise _invalid(f"not a URL: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("an absolute http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise _invalid("user info (user:password@) is not allowed in webhook URLs")
    if parts.fragment:
        raise _invalid("a fragment (#...) is never sent; remove it")
    host = _ascii_host(parts.hostname)
    return WebhookUrl(raw, scheme, host, port or (443 if scheme == "https" else 80))


def _ascii_host(hostname: str) -> str:
    host = hostname.rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise _invalid("the host is not a valid domain name") from e


def _url(code: str, message: str) -> FieldError:
    return FieldError("/url", code, message)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput("The webhook URL is invalid.", errors=(_url("invalid_url", message),))
