"""Read models over the committed in-memory state."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.custom_fields import schema_of
from crm.adapters.memory.store import MemoryStore
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.workspace import ApiKey
from crm.domain.pagination import Page, PageRequest, Position, SortOrder


class InMemoryContactReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, workspace_id: UUID, contact_id: UUID) -> Contact | None:
        found = self._store.state.contacts.get(contact_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        return self._visible(found)

    async def list(
        self, workspace_id: UUID, page: PageRequest, tags: Sequence[str] = ()
    ) -> Page[Contact]:
        newest_first = page.order is SortOrder.NEWEST_FIRST
        rows = sorted(
            (
                c
                for c in self._store.state.contacts.values()
                if c.workspace_id == workspace_id and set(tags) <= set(c.tags)
            ),
            key=lambda c: (c.created_at, c.id),
            reverse=newest_first,
        )
        if page.after is not None:
            after = (page.after.created_at, page.after.id)
            rows = [
                c
                for c in rows
                if ((c.created_at, c.id) < after) == newest_first and (c.created_at, c.id) != after
            ]
        items = [self._visible(c) for c in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)

    def _visible(self, contact: Contact) -> Contact:
        """A copy without the values of archived custom fields (they stay stored)."""
        schema = schema_of(self._store.state, contact.workspace_id, ObjectType.CONTACT)
        found = copy.deepcopy(contact)
        found.custom_fields = schema.visible(found.custom_fields)
        return found


class InMemoryApiKeyReader:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        found = (k for k in self._store.state.api_keys.values() if k.secret_hash == secret_hash)
        return copy.copy(next(found, None))

    async def touch(self, key_id: UUID, at: datetime) -> None:
        key = self._store.state.api_keys.get(key_id)
        if key is not None and key.revoked_at is None:
            key.last_used_at = at
