"""Read models over the committed in-memory state."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from crm.adapters.memory.custom_fields import schema_of
from crm.adapters.memory.paging import keyset_page
from crm.adapters.memory.state import MemoryStore
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.workspace import ApiKey
from crm.domain.pagination import Page, PageRequest


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
        rows = (
            c
            for c in self._store.state.contacts.values()
            if c.workspace_id == workspace_id and set(tags) <= set(c.tags)
        )
        return keyset_page(rows, lambda c: (c.created_at, c.id), page, self._visible)

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
