from __future__ import annotations

from collections.abc import Sequence

from crm.domain.model.contact import Contact
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.tags import parse_tag_filter
from crm.domain.pagination import Page, PageRequest
from crm.ports.repositories import ContactReader


class ListContacts:
    """List the caller's workspace contacts a page at a time, by creation time (keyset);
    `tag` (repeatable) keeps only the contacts carrying every tag named."""

    def __init__(self, contacts: ContactReader) -> None:
        self._contacts = contacts

    async def execute(
        self, principal: Principal, page: PageRequest, tags: Sequence[str] = ()
    ) -> Page[Contact]:
        """With `tags` (repeatable `?tag=`), only contacts carrying every tag named."""
        principal.require(Action.READ_CONTACTS)
        return await self._contacts.list(principal.workspace_id, page, parse_tag_filter(tags))
