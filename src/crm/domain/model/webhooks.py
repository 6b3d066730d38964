"""Webhook subscriptions: where a workspace's events go, which ones, and the secret signing them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from crm.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from crm.domain.model.changes import FieldChange, apply_changes
from crm.domain.model.delivery import topic_matches
from crm.domain.model.events import DomainEvent

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
ROTATION_OVERLAP = timedelta(hours=24)
"""After a rotation the previous secret signs too, for this long."""
MAX_EVENT_TYPES = 50
MAX_FIELDS = 50
MAX_DESCRIPTION = 500
PING = "ping"
"""The test event (`POST .../test`); nobody subscribes to it, every subscription gets it."""

_PATTERN = re.compile(r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63})?")


class WebhookSubscriptionNotFound(NotFound):
    code = "webhook_subscription_not_found"
    title = "Webhook subscription not found"


class WebhookSubscriptionDisabled(Conflict):
    code = "webhook_subscription_disabled"
    title = "The webhook subscription is disabled"


def known_topics() -> frozenset[str]:
    """Every event type the service records (the topics of DomainEvent's subclasses)."""
    found: set[str] = set()
    todo = list(DomainEvent.__subclasses__())
    while todo:
        kind = todo.pop()
        found.add(kind.topic)
        todo += kind.__subclasses__()
    return frozenset(found)


def patterns_matching(topic: str) -> list[str]:
    """Every pattern that matches `topic`: `*`, each `prefix.*` of it, and itself."""
    parts = topic.split(".")
    return ["*", *(".".join(parts[:n]) + ".*" for n in range(1, len(parts))), topic]


def mint_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(slots=True, kw_only=True)
class WebhookSubscription:
    id: UUID
    workspace_id: UUID
    url: str
    event_types: tuple[str, ...]
    fields: tuple[str, ...] | None
    description: str | None
    secret: str
    created_at: datetime
    updated_at: datetime
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    """Why it stopped: `requested` (PATCH), `gone` (410), `failing` (3 days of failures)."""
    disabled_at: datetime | None = None
    failing_since: datetime | None = None
    """The first failed attempt since the last success; None while deliveries succeed."""
    version: int = 1

    def apply(self, values: Mapping[str, Any], now: datetime) -> dict[str, FieldChange]:
        """Set parsed `values`; `enabled: true` re-enables (forgetting past failures)."""
        changed = apply_changes(self, values, now)
        if "enabled" in changed:
            if self.enabled:
                self.disabled_reason, self.disabled_at, self.failing_since = None, None, None
            else:
                self.disabled_reason, self.disabled_at = "requested", now
        return changed

    def rotate(self, new_secret: str, now: datetime) -> None:
        """`new_secret` signs from now on; the current one keeps signing for 24 hours (a
        previous one still in its overlap is dropped)."""
        self.previous_secret, self.previous_secret_expires_at = self.secret, now + ROTATION_OVERLAP
        self.secret = new_secret
        self.updated_at = now
        self.version += 1

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery made at `now` is signed with: the current one first."""
        expires = self.previous_secret_expires_at
        if self.previous_secret is None or expires is None or expires <= now:
            return [self.secret]
        return [self.secret, self.previous_secret]

    def wants(self, event_type: str, changes: Mapping[str, Any] | None) -> bool:
        """Whether an event goes to this subscription: its type matches a pattern and, for an
        event recording `changes`, one of `fields` (when set) is among them."""
        if not any(topic_matches(p, event_type) for p in self.event_types):
            return False
        if self.fields is None or changes is None:
            return True
        return any(changed(f, changes) for f in self.fields)

    def record_success(self) -> None:
        self.failing_since = None

    def record_failure(self, now: datetime, disable_after: timedelta) -> bool:
        """Note a failed delivery; True when this one disables the subscription (failing
        for `disable_after` since the first failure after the last success)."""
        if self.failing_since is None:
            self.failing_since = now
        if self.enabled and now - self.failing_since >= disable_after:
            self.disable("failing", now)
            return True
        return False

    def disable(self, reason: str, now: datetime) -> None:
        self.enabled, self.disabled_reason, self.disabled_at = False, reason, now
        self.updated_at = now
        self.version += 1


def changed(field: str, changes: Mapping[str, Any]) -> bool:
    """Whether `changes` (field → old and new) changed `field`; `custom_fields.<key>` looks
    inside the custom fields."""
    if field in changes:
        return True
    top, _, key = field.partition(".")
    if not key or top not in changes:
        return False
    change = changes[top]
    old, new = change.get("old") or {}, change.get("new") or {}
    return isinstance(old, dict) and isinstance(new, dict) and old.get(key) != new.get(key)


def parse_subscription(raw: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The fields of a create or PATCH body other than `url` (checked by the use case, which
    resolves it); 422 naming every wrong field."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "url":
            continue
        parse = _PARSERS.get(name)
        if parse is None:
            errors.append(FieldError(f"/{name}", "unknown_field", "not a subscription field"))
            continue
        try:
            values[name] = parse(value)
        except _Wrong as wrong:
            errors.append(FieldError(wrong.pointer(name), wrong.code, wrong.message))
    for name in ("url", "event_types") if creating else ():
        if name not in raw:
            errors.append(FieldError(f"/{name}", "required", f"a subscription needs {name}"))
    if errors:
        raise InvalidInput("The webhook subscription is invalid.", errors=tuple(errors))
    return values


class _Wrong(Exception):
    def __init__(self, code: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.index = code, message, index

    def pointer(self, name: str) -> str:
        return f"/{name}" if self.index is None else f"/{name}/{self.index}"


def _strings(value: Any, most: int, what: str) -> Sequence[str]:
    if not isinstance(value, list | tuple) or not value:
        raise _Wrong("invalid_list", f"a non-empty list of {what}")
    if len(value) > most:
        raise _Wrong("too_many", f"at most {most} {what}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _Wrong("invalid_type", "a string", i)
    return value


def parse_event_types(value: Any) -> tuple[str, ...]:
    """Known event types, `prefix.*` (some known type starts with the prefix) or `*`."""
    topics = known_topics()
    patterns: dict[str, None] = {}
    for i, pattern in enumerate(_strings(value, MAX_EVENT_TYPES, "event types")):
        if not _PATTERN.fullmatch(pattern) or not any(topic_matches(pattern, t) for t in topics):
            raise _Wrong("unknown_event_type", f"{pattern!r} matches no event type", i)
        patterns.setdefault(pattern)
    return tuple(patterns)


def _fields(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names: dict[str, None] = {}
    for i, name in enumerate(_strings(value, MAX_FIELDS, "field names")):
        if not _FIELD.fullmatch(name):
            raise _Wrong("invalid_field_name", "a field name, or custom_fields.<key>", i)
        names.setdefault(name)
    return tuple(names)


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise _Wrong("invalid_description", f"a string of at most {MAX_DESCRIPTION} characters")
    return value.strip() or None


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Wrong("invalid_type", "true or false")
    return value


_PARSERS = {
    "event_types": parse_event_types,
    "fields": _fields,
    "description": _description,
    "enabled": _enabled,
}
