"""Search: records matching a typed query tree, a keyset page at a time."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.domain.model.search import SearchQuery
from crm.domain.search_paging import SearchPage, SearchResult


class RecordSearch(Protocol):
    """Reads outside a unit of work: one statement per page; values of archived custom
    fields are hidden as on every read."""

    async def contacts(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Contact]:
        """The workspace's contacts matching `query`, after `page.after` in its sort."""

    async def companies(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Company]:
        """The workspace's companies matching `query`, after `page.after` in its sort."""

    async def deals(
        self, workspace_id: UUID, query: SearchQuery, page: SearchPage
    ) -> SearchResult[Deal]:
        """The workspace's deals matching `query`, after `page.after` in its sort."""
