"""Pipelines, deals, their stage history and links in PostgreSQL (SQL Core, explicit mapping)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import (
    ARRAY,
    Uuid,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.external_ids import check_external_id, external_id_race
from crm.adapters.postgres.mapping import Row
from crm.domain.errors import (
    CompanyNotFound,
    ContactNotFound,
    FieldError,
    StageNotInPipeline,
    VersionConflict,
)
from crm.domain.model.deal import Deal, DealStatus, LinkedObject, StageChange
from crm.domain.model.pipeline import Pipeline, Stage, StageKind

DEAL_COLUMNS = (
    "id, workspace_id, name, amount, currency, pipeline_id, stage_id, status, owner_id, "
    "expected_close_date, closed_at, tags, custom_fields, created_at, updated_at, version, "
    "external_id"
)
# The stages of pipeline `p`, in order, as one JSON array (the pipeline reads in one statement).
STAGES_JSON = (
    "COALESCE((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name, "
    "'probability', s.probability, 'kind', s.kind, 'position', s.position, "
    "'created_at', s.created_at) ORDER BY s.position) FROM pipeline_stage s "
    "WHERE s.workspace_id = p.workspace_id AND s.pipeline_id = p.id), '[]'::jsonb) AS stages"
)
PIPELINE_COLUMNS = (
    "p.id, p.workspace_id, p.name, p.is_default, p.created_at, p.updated_at, p.version, "
    + STAGES_JSON
)


def deal_to_domain(row: Row) -> Deal:
    return Deal(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        amount_minor=row["amount"],
        currency=row["currency"],
        pipeline_id=row["pipeline_id"],
        stage_id=row["stage_id"],
        status=DealStatus(row["status"]),
        owner_id=row["owner_id"],
        expected_close_date=row["expected_close_date"],
        closed_at=row["closed_at"],
        tags=tuple(row["tags"]),
        custom_fields=row["custom_fields"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        external_id=row["external_id"],
    )


def deal_to_row(deal: Deal) -> dict[str, Any]:
    return {
        "id": deal.id,
        "workspace_id": deal.workspace_id,
        "name": deal.name,
        "amount": deal.amount_minor,
        "currency": deal.currency,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "status": deal.status.value,
        "owner_id": deal.owner_id,
        "expected_close_date": deal.expected_close_date,
        "closed_at": deal.closed_at,
        "tags": list(deal.tags),
        "custom_fields": deal.custom_fields,
        "created_at": deal.created_at,
        "updated_at": deal.updated_at,
        "version": deal.version,
        "external_id": deal.external_id,
    }


def pipeline_to_domain(row: Row) -> Pipeline:
    stages = row["stages"]
    if isinstance(stages, str | bytes):
        stages = orjson.loads(stages)
    return Pipeline(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        is_default=row["is_default"],
        stages=[
            Stage(
                UUID(s["id"]),
                s["name"],
                s["probability"],
                StageKind(s["kind"]),
                s["position"],
                datetime.fromisoformat(s["created_at"]),
            )
            for s in stages
        ],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def _stage_rows(p: Pipeline) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "workspace_id": p.workspace_id,
            "pipeline_id": p.id,
            "name": s.name,
            "position": s.position,
            "probability": s.probability,
            "kind": s.kind.value,
            "created_at": s.created_at,
        }
        for s in p.stages
    ]


def _pipeline_row(p: Pipeline) -> dict[str, Any]:
    return {
        "id": p.id,
        "workspace_id": p.workspace_id,
        "name": p.name,
        "is_default": p.is_default,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
    }


_p, _s, _d = t.pipeline.c, t.pipeline_stage.c, t.deal.c
# Lock first, read after: a statement that waited for a lock still reads the other tables (the
# stages) as they were when it started, so the stages are read by a statement of their own.
_LOCK_PIPELINE = {
    (by, lock): text(
        "SELECT p.id FROM pipeline p WHERE p.workspace_id = :workspace_id"  # noqa: S608
        + (" AND p.id = :pipeline_id" if by == "id" else " AND p.is_default")
        + f" FOR {lock}"
    )
    for by in ("id", "default")
    for lock in ("SHARE", "UPDATE")
}
_READ_PIPELINE = text(f"SELECT {PIPELINE_COLUMNS} FROM pipeline p WHERE p.id = :pipeline_id")  # noqa: S608
_UPDATE_PIPELINE = (
    update(t.pipeline)
    .where(_p.id == bindparam("match_id"), _p.version == bindparam("match_version"))
    .returning(_p.id)
)
_upsert = pg_insert(t.pipeline_stage)
_UPSERT_STAGES = _upsert.on_conflict_do_update(
    index_elements=[_s.id],
    set_={c: _upsert.excluded[c] for c in ("name", "position", "probability", "kind")},
)
_DELETE_OTHER_STAGES = delete(t.pipeline_stage).where(
    _s.pipeline_id == bindparam("pipeline_id"),
    _s.id != func.all(bindparam("keep", type_=ARRAY(Uuid))),
)
_INSERT_DEAL = insert(t.deal)
_UPDATE_DEAL = (
    update(t.deal)
    .where(_d.id == bindparam("match_id"), _d.version == bindparam("match_version"))
    .returning(_d.id)
)
_MOVE_ALL = text(
    "UPDATE deal SET stage_id = :to_id, status = CAST(:kind AS text), version = deal.version + 1,"
    " updated_at = CAST(:now AS timestamptz), closed_at = CASE"
    " WHEN CAST(:kind AS text) = 'open' THEN NULL"
    " WHEN old.status <> CAST(:kind AS text) THEN CAST(:now AS timestamptz)"
    " ELSE deal.closed_at END"
    " FROM (SELECT id, status FROM deal WHERE workspace_id = :workspace_id AND stage_id = :from_id"
    " FOR UPDATE) AS old WHERE deal.id = old.id RETURNING deal.id, old.status"
)


_LOCK_WORKSPACE = text("SELECT 1 FROM workspace WHERE id = :workspace_id FOR NO KEY UPDATE")


class SqlPipelineRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, pipeline: Pipeline) -> None:
        await self._conn.execute(insert(t.pipeline), _pipeline_row(pipeline))
        await self._conn.execute(insert(t.pipeline_stage), _stage_rows(pipeline))

    async def _one(self, by: str, lock: str, **params: Any) -> Pipeline | None:
        found = (await self._conn.execute(_LOCK_PIPELINE[(by, lock)], params)).scalar_one_or_none()
        if found is None:
            return None
        row = (await self._conn.execute(_READ_PIPELINE, {"pipeline_id": found})).mappings().one()
        return pipeline_to_domain(row)

    async def get(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        return await self._one("id", "SHARE", workspace_id=workspace_id, pipeline_id=pipeline_id)

    async def get_default(self, workspace_id: UUID) -> Pipeline | None:
        return await self._one("default", "SHARE", workspace_id=workspace_id)

    async def get_for_update(self, workspace_id: UUID, pipeline_id: UUID) -> Pipeline | None:
        return await self._one("id", "UPDATE", workspace_id=workspace_id, pipeline_id=pipeline_id)

    async def save(self, pipeline: Pipeline, expected_version: int) -> None:
        values = {**_pipeline_row(pipeline), "match_id": pipeline.id}
        values["match_version"] = expected_version
        if (await self._conn.execute(_UPDATE_PIPELINE, values)).one_or_none() is None:
            raise VersionConflict("The pipeline was changed by another writer.")
        keep = [s.id for s in pipeline.stages]
        await self._conn.execute(_DELETE_OTHER_STAGES, {"pipeline_id": pipeline.id, "keep": keep})
        await self._conn.execute(_UPSERT_STAGES, _stage_rows(pipeline))

    async def clear_default(self, workspace_id: UUID) -> None:
        # One switch of the default at a time per workspace, until this transaction ends: a
        # lone UPDATE that waited for a concurrent switch would re-check only the row it
        # waited for, miss the new default committed meanwhile and leave two (the unique
        # index refuses the second). The workspace row is the mutex (NO KEY UPDATE, so the
        # foreign-key checks of writes elsewhere in the workspace do not wait for it), and
        # the UPDATE after it, a statement of its own, sees the latest committed default.
        await self._conn.execute(_LOCK_WORKSPACE, {"workspace_id": workspace_id})
        await self._conn.execute(
            update(t.pipeline)
            .where(_p.workspace_id == workspace_id, _p.is_default)
            .values(is_default=False)
        )

    async def remove(self, pipeline: Pipeline) -> None:
        await self._conn.execute(delete(t.pipeline).where(_p.id == pipeline.id))


@contextmanager
def _stage_refused() -> Iterator[None]:
    """The composite foreign key refuses a stage that is not the pipeline's (the use cases
    check first, under a lock on the pipeline; this is the last line, never a 500)."""
    try:
        yield
    except IntegrityError as e:
        if "fk_pipeline_id_stage_id_pipeline_stage_in_workspace" not in str(e.orig):
            raise
        raise StageNotInPipeline(
            "The stage is not a stage of the deal's pipeline (any more).",
            errors=(FieldError("/stage_id", "not_in_pipeline", "no such stage here"),),
        ) from e


class SqlDealRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, deal: Deal) -> None:
        await check_external_id(self._conn, t.deal, deal)
        with external_id_race(t.deal, deal), _stage_refused():
            await self._conn.execute(_INSERT_DEAL, deal_to_row(deal))

    async def get(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        query = select(t.deal).where(_d.workspace_id == workspace_id, _d.id == deal_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return deal_to_domain(row) if row else None

    async def get_for_update(self, workspace_id: UUID, deal_id: UUID) -> Deal | None:
        query = (
            select(t.deal)
            .where(_d.workspace_id == workspace_id, _d.id == deal_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return deal_to_domain(row) if row else None

    async def save(self, deal: Deal, expected_version: int) -> None:
        values = {**deal_to_row(deal), "match_id": deal.id, "match_version": expected_version}
        await check_external_id(self._conn, t.deal, deal)
        with external_id_race(t.deal, deal), _stage_refused():
            updated = (await self._conn.execute(_UPDATE_DEAL, values)).one_or_none()
        if updated is None:
            raise VersionConflict("The deal was changed by another writer.")

    async def remove(self, deal: Deal) -> None:
        # History and links go with it (ON DELETE CASCADE).
        await self._conn.execute(delete(t.deal).where(_d.id == deal.id))

    async def count_in(self, workspace_id: UUID, pipeline_id: UUID, stage_id: UUID | None) -> int:
        query = (
            select(func.count())
            .select_from(t.deal)
            .where(_d.workspace_id == workspace_id, _d.pipeline_id == pipeline_id)
        )
        if stage_id is not None:
            query = query.where(_d.stage_id == stage_id)
        return int((await self._conn.execute(query)).scalar_one())

    async def move_all(
        self, workspace_id: UUID, from_stage_id: UUID, to: Stage, now: datetime
    ) -> list[tuple[UUID, DealStatus]]:
        params = {
            "workspace_id": workspace_id,
            "from_id": from_stage_id,
            "to_id": to.id,
            "kind": to.kind.value,
            "now": now,
        }
        rows = (await self._conn.execute(_MOVE_ALL, params)).all()
        return [(row[0], DealStatus(row[1])) for row in rows]

    async def add_history(self, changes: Iterable[StageChange]) -> None:
        rows = [
            {
                "id": c.id,
                "workspace_id": c.workspace_id,
                "deal_id": c.deal_id,
                "from_stage_id": c.from_stage_id,
                "to_stage_id": c.to_stage_id,
                "moved_by": c.moved_by,
                "moved_at": c.moved_at,
            }
            for c in changes
        ]
        if rows:
            await self._conn.execute(insert(t.deal_stage_history), rows)


_LINK_TABLES = {LinkedObject.CONTACT: t.deal_contact, LinkedObject.COMPANY: t.deal_company}


class SqlDealLinkRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def link(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, other_id: UUID, now: datetime
    ) -> tuple[datetime, bool]:
        table = _LINK_TABLES[kind]
        row = {
            "workspace_id": workspace_id,
            "deal_id": deal_id,
            f"{kind.value}_id": other_id,
            "created_at": now,
        }
        insert_ = pg_insert(table).values(row)
        # The no-op update returns the existing link's row (and locks it); xmax = 0 only on
        # a row this statement inserted.
        statement = insert_.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={"created_at": table.c.created_at},
        ).returning(table.c.created_at, literal_column("xmax = 0"))
        try:
            linked_at, created = (await self._conn.execute(statement)).one()
            return linked_at, bool(created)
        except IntegrityError as e:
            # The composite foreign key refuses an id that is not in this workspace.
            if f"fk_{kind.value}_id_{kind.value}_in_workspace" not in str(e.orig):
                raise
            missing = ContactNotFound if kind is LinkedObject.CONTACT else CompanyNotFound
            raise missing(f"No {kind.value} {other_id} in this workspace.") from e

    async def unlink(
        self, kind: LinkedObject, workspace_id: UUID, deal_id: UUID, other_id: UUID
    ) -> bool:
        table = _LINK_TABLES[kind]
        statement = (
            delete(table)
            .where(
                table.c.workspace_id == workspace_id,
                table.c.deal_id == deal_id,
                table.c[f"{kind.value}_id"] == other_id,
            )
            .returning(table.c.deal_id)
        )
        return (await self._conn.execute(statement)).one_or_none() is not None
