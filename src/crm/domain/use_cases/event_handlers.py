"""Which handlers run for which event type: the registry webhooks, push and the rest join."""

from __future__ import annotations

import re

from crm.domain.model.delivery import topic_matches
from crm.ports.delivery import Handler

_PATTERN = re.compile(r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")


class HandlerRegistry:
    """Handlers by event-type pattern: exact (`deal.moved`), a prefix (`contact.*`) or every
    event (`*`). A handler's name is its identity: two handlers may not share one."""

    def __init__(self) -> None:
        self._by_pattern: dict[str, list[Handler]] = {}
        self._names: dict[str, Handler] = {}

    def subscribe(self, pattern: str, handler: Handler) -> None:
        if not _PATTERN.fullmatch(pattern):
            raise ValueError(f"not an event type pattern: {pattern!r}")
        holder = self._names.setdefault(handler.name, handler)
        if holder is not handler:
            raise ValueError(f"two handlers are named {handler.name!r}")
        subscribed = self._by_pattern.setdefault(pattern, [])
        if handler not in subscribed:
            subscribed.append(handler)

    def handlers_for(self, event_type: str) -> list[Handler]:
        """Every handler subscribed to a pattern matching `event_type`, each once."""
        found: dict[str, Handler] = {}
        for pattern, handlers in self._by_pattern.items():
            if topic_matches(pattern, event_type):
                found.update((h.name, h) for h in handlers if h.name not in found)
        return list(found.values())

    @property
    def names(self) -> list[str]:
        return list(self._names)
