"""Custom field definitions, the tag catalogue, and the read-side helper that hides the values
of archived fields inside the reading statement itself (reads stay one round trip)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, overload
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    Table,
    Text,
    Uuid,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.errors import CustomFieldKeyTaken, TagNameTaken, VersionConflict
from crm.domain.model.custom_fields import (
    CustomField,
    FieldSchema,
    FieldType,
    ObjectType,
    SelectOption,
)
from crm.domain.model.tags import Tag
from crm.domain.pagination import Page, PageRequest, Position, SortOrder

_f, _t = t.custom_field.c, t.tag.c
_ids = Uuid7Generator()
# Tables whose rows carry `tags` (text[]) and `custom_fields` (jsonb), by object type.
TAGGED_TABLES: dict[ObjectType, Table] = {
    ObjectType.CONTACT: t.contact,
    ObjectType.COMPANY: t.company,
    ObjectType.DEAL: t.deal,
}


@overload
def visible_custom_fields(table: str, object_type: ObjectType | str) -> str: ...


@overload
def visible_custom_fields(table: Table, object_type: ObjectType | str) -> ColumnElement[Any]: ...


def visible_custom_fields(
    table: str | Table, object_type: ObjectType | str
) -> str | ColumnElement[Any]:
    """`custom_fields` minus the keys of the object type's archived fields, as one expression
    of the reading statement (a correlated subquery on the custom_field table's unique index).

    Given a table name (raw SQL, e.g. asyncpg readers) returns SQL text to put in the select
    list, labelled `custom_fields`: `f"SELECT id, ..., {visible_custom_fields('contact',
    ObjectType.CONTACT)} FROM contact ..."`. Given a SQLAlchemy Table returns a column element
    labelled `custom_fields` for `select(...)`.
    """
    kind = ObjectType(object_type).value
    if isinstance(table, str):
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        return (
            f"({table}.custom_fields - ARRAY(SELECT cf.key FROM custom_field cf"  # noqa: S608
            f" WHERE cf.workspace_id = {table}.workspace_id AND cf.object_type = '{kind}'"
            " AND cf.archived_at IS NOT NULL)) AS custom_fields"
        )
    archived = (
        select(_f.key)
        .where(
            _f.workspace_id == table.c.workspace_id,
            _f.object_type == literal(kind),
            _f.archived_at.is_not(None),
        )
        .correlate(table)
        .scalar_subquery()
    )
    return table.c.custom_fields.op("-")(func.array(archived)).label("custom_fields")


def tag_filter_sql(table: str, param: int) -> str:
    """`<table>.tags @> $<param>::text[]` (the GIN index): records carrying every tag given."""
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    return f"{table}.tags @> ${param}::text[]"


def field_to_domain(row: Any) -> CustomField:
    return CustomField(
        id=row["id"],
        workspace_id=row["workspace_id"],
        object_type=ObjectType(row["object_type"]),
        key=row["key"],
        label=row["label"],
        field_type=FieldType(row["field_type"]),
        options=tuple(SelectOption(o["value"], o["label"]) for o in row["options"] or ()),
        archived_at=row["archived_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def field_to_row(field: CustomField) -> dict[str, Any]:
    return {
        "id": field.id,
        "workspace_id": field.workspace_id,
        "object_type": field.object_type.value,
        "key": field.key,
        "label": field.label,
        "field_type": field.field_type.value,
        "options": [{"value": o.value, "label": o.label} for o in field.options],
        "archived_at": field.archived_at,
        "created_at": field.created_at,
        "updated_at": field.updated_at,
        "version": field.version,
    }


def tag_to_domain(row: Any) -> Tag:
    return Tag(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        color=row["color"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def tag_to_row(tag: Tag) -> dict[str, Any]:
    return {
        "id": tag.id,
        "workspace_id": tag.workspace_id,
        "name": tag.name,
        "color": tag.color,
        "created_at": tag.created_at,
        "updated_at": tag.updated_at,
        "version": tag.version,
    }


async def _page(conn: AsyncConnection, table: Table, query: Select[Any], page: PageRequest) -> Any:
    created_at, id_ = table.c.created_at, table.c.id
    if page.order is SortOrder.NEWEST_FIRST:
        if page.after is not None:
            query = query.where(tuple_(created_at, id_) < (page.after.created_at, page.after.id))
        query = query.order_by(created_at.desc(), id_.desc())
    else:
        if page.after is not None:
            query = query.where(tuple_(created_at, id_) > (page.after.created_at, page.after.id))
        query = query.order_by(created_at, id_)
    rows = (await conn.execute(query.limit(page.limit + 1))).mappings().all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, (Position(rows[-1]["created_at"], rows[-1]["id"]) if more else None)


class SqlCustomFieldRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, field: CustomField) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(t.custom_field).values(field_to_row(field)))
        except IntegrityError as e:
            raise CustomFieldKeyTaken(
                f"The {field.object_type} object already has a field {field.key!r}."
            ) from e

    async def get(self, workspace_id: UUID, field_id: UUID) -> CustomField | None:
        query = select(t.custom_field).where(_f.workspace_id == workspace_id, _f.id == field_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return field_to_domain(row) if row else None

    async def get_for_update(self, workspace_id: UUID, field_id: UUID) -> CustomField | None:
        query = (
            select(t.custom_field)
            .where(_f.workspace_id == workspace_id, _f.id == field_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return field_to_domain(row) if row else None

    async def save(self, field: CustomField, expected_version: int) -> None:
        query = (
            update(t.custom_field)
            .where(_f.id == field.id, _f.version == expected_version)
            .values(field_to_row(field))
            .returning(_f.id)
        )
        if (await self._conn.execute(query)).one_or_none() is None:
            raise VersionConflict("The custom field was changed by another writer.")

    async def list(
        self, workspace_id: UUID, page: PageRequest, object_type: ObjectType | None = None
    ) -> Page[CustomField]:
        query = select(t.custom_field).where(_f.workspace_id == workspace_id)
        if object_type is not None:
            query = query.where(_f.object_type == object_type.value)
        rows, next_ = await _page(self._conn, t.custom_field, query, page)
        return Page([field_to_domain(r) for r in rows], next_)

    async def schema(self, workspace_id: UUID, object_type: ObjectType) -> FieldSchema:
        query = select(t.custom_field).where(
            _f.workspace_id == workspace_id, _f.object_type == object_type.value
        )
        rows = (await self._conn.execute(query)).mappings().all()
        return FieldSchema(object_type, [field_to_domain(r) for r in rows])


_ENSURE_TAGS = text(
    "INSERT INTO tag (id, workspace_id, name, color, created_at, updated_at, version)"
    " SELECT n.id, :workspace_id, n.name, NULL, :now, :now, 1"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:names AS text[])) AS n(id, name)"
    " ON CONFLICT (workspace_id, name) DO NOTHING"
)


class SqlTagRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, tag: Tag) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(t.tag).values(tag_to_row(tag)))
        except IntegrityError as e:
            raise TagNameTaken(f"The tag {tag.name!r} is already in the catalogue.") from e

    async def get(self, workspace_id: UUID, tag_id: UUID) -> Tag | None:
        query = select(t.tag).where(_t.workspace_id == workspace_id, _t.id == tag_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return tag_to_domain(row) if row else None

    async def get_for_update(self, workspace_id: UUID, tag_id: UUID) -> Tag | None:
        query = (
            select(t.tag).where(_t.workspace_id == workspace_id, _t.id == tag_id).with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return tag_to_domain(row) if row else None

    async def save(self, tag: Tag, expected_version: int, previous_name: str | None = None) -> None:
        query = (
            update(t.tag)
            .where(_t.id == tag.id, _t.version == expected_version)
            .values(tag_to_row(tag))
            .returning(_t.id)
        )
        try:
            async with self._conn.begin_nested():
                found = (await self._conn.execute(query)).one_or_none()
        except IntegrityError as e:
            raise TagNameTaken(f"The tag {tag.name!r} is already in the catalogue.") from e
        if found is None:
            raise VersionConflict("The tag was changed by another writer.")
        if previous_name is None or previous_name == tag.name:
            return
        for table in TAGGED_TABLES.values():
            c = table.c
            old = bindparam("old", [previous_name], type_=ARRAY(Text))
            new = bindparam("new", [tag.name], type_=ARRAY(Text))
            # A record already carrying the new name just loses the old one (no duplicates).
            renamed = case(
                (c.tags.contains(new), func.array_remove(c.tags, previous_name)),
                else_=func.array_replace(c.tags, previous_name, tag.name),
            )
            await self._conn.execute(
                update(table)
                .where(c.workspace_id == tag.workspace_id, c.tags.contains(old))
                .values(tags=renamed, version=c.version + 1, updated_at=tag.updated_at)
            )

    async def remove(self, tag: Tag) -> None:
        await self._conn.execute(delete(t.tag).where(_t.id == tag.id))
        for table in TAGGED_TABLES.values():
            c = table.c
            await self._conn.execute(
                update(table)
                .where(
                    c.workspace_id == tag.workspace_id,
                    c.tags.contains(bindparam("gone", [tag.name], type_=ARRAY(Text))),
                )
                .values(tags=func.array_remove(c.tags, tag.name), version=c.version + 1)
            )

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[Tag]:
        query = select(t.tag).where(_t.workspace_id == workspace_id)
        rows, next_ = await _page(self._conn, t.tag, query, page)
        return Page([tag_to_domain(r) for r in rows], next_)

    async def ensure(self, workspace_id: UUID, names: Iterable[str], now: datetime) -> None:
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return
        await self._conn.execute(
            _ENSURE_TAGS.bindparams(
                bindparam("workspace_id", type_=Uuid),
                bindparam("ids", type_=ARRAY(Uuid)),
                bindparam("names", type_=ARRAY(Text)),
            ),
            {
                "workspace_id": workspace_id,
                "now": now,
                "ids": [_ids.new_id() for _ in wanted],
                "names": wanted,
            },
        )
