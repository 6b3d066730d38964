"""Reads of custom field definitions and the tag catalogue on the asyncpg pool: one statement,
one round trip each (no transaction around them)."""

from __future__ import annotations

import builtins
from uuid import UUID

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.custom_fields import field_to_domain, tag_to_domain
from crm.adapters.postgres.read_queries import list_sql, rows_page
from crm.adapters.postgres.readers import ReadPool
from crm.domain.model.custom_fields import CustomField, ObjectType
from crm.domain.model.tags import Tag
from crm.domain.pagination import Page, PageRequest

# The SQL below is assembled from the tables' column names only; values are bound.
_FIELD = ", ".join(f"cf.{c.name}" for c in t.custom_field.columns)
_TAG = ", ".join(f"tg.{c.name}" for c in t.tag.columns)
_GET_FIELD = f"SELECT {_FIELD} FROM custom_field cf WHERE cf.workspace_id = $1 AND cf.id = $2"  # noqa: S608
_GET_TAG = f"SELECT {_TAG} FROM tag tg WHERE tg.workspace_id = $1 AND tg.id = $2"  # noqa: S608


class AsyncpgCustomFieldReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, field_id: UUID) -> CustomField | None:
        row = await self._pool.fetchrow(_GET_FIELD, workspace_id, field_id)
        return field_to_domain(row) if row else None

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]:
        """`$1` workspace, `$2` limit, then: keyset ($created_at, $id), object type."""
        args: builtins.list[object] = []
        if page.after is not None:
            args += [page.after.created_at, page.after.id]
        if object_type is not None:
            args.append(object_type.value)
        filters = ("object_type",) if object_type is not None else ()
        query = list_sql(
            "custom_field", "cf", _FIELD, page.order, page.after is not None, filters, False
        )
        rows = await self._pool.fetch(query, workspace_id, page.limit + 1, *args)
        return rows_page(rows, page, field_to_domain)


class AsyncpgTagReader:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: UUID, tag_id: UUID) -> Tag | None:
        row = await self._pool.fetchrow(_GET_TAG, workspace_id, tag_id)
        return tag_to_domain(row) if row else None

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Tag]:
        keyset = () if page.after is None else (page.after.created_at, page.after.id)
        query = list_sql("tag", "tg", _TAG, page.order, bool(keyset), (), False)
        rows = await self._pool.fetch(query, workspace_id, page.limit + 1, *keyset)
        return rows_page(rows, page, tag_to_domain)
