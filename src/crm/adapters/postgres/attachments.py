"""Attachments' rows on one SQLAlchemy connection."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.paging import page_of
from crm.domain.errors import VersionConflict
from crm.domain.model.attachments import AttachedTo, Attachment, AttachmentStatus
from crm.domain.pagination import Page, PageRequest

_c = t.attachment.c
_FIXED = ("id", "workspace_id", "record_type", "record_id", "created_by", "created_at")


def attachment_to_row(attachment: Attachment) -> dict[str, Any]:
    row = dataclasses.asdict(attachment)
    row["record_type"], row["status"] = attachment.record_type.value, attachment.status.value
    return row


def attachment_to_domain(row: Any) -> Attachment:
    values = dict(row)
    values["record_type"] = AttachedTo(values["record_type"])
    values["status"] = AttachmentStatus(values["status"])
    return Attachment(**values)


class SqlAttachmentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, attachment: Attachment) -> None:
        await self._conn.execute(t.attachment.insert().values(attachment_to_row(attachment)))

    async def get(self, workspace_id: UUID, attachment_id: UUID) -> Attachment | None:
        return await self._one(workspace_id, attachment_id, lock=False)

    async def get_for_update(self, workspace_id: UUID, attachment_id: UUID) -> Attachment | None:
        return await self._one(workspace_id, attachment_id, lock=True)

    async def _one(
        self, workspace_id: UUID, attachment_id: UUID, *, lock: bool
    ) -> Attachment | None:
        query = select(t.attachment).where(_c.workspace_id == workspace_id, _c.id == attachment_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return None if row is None else attachment_to_domain(row)

    async def save(self, attachment: Attachment, expected_version: int) -> None:
        row = attachment_to_row(attachment)
        for fixed in _FIXED:
            del row[fixed]
        query = update(t.attachment).where(_c.id == attachment.id, _c.version == expected_version)
        done = await self._conn.execute(query.values(row))
        if done.rowcount == 0:
            raise VersionConflict("The attachment changed meanwhile.")

    async def remove(self, attachment: Attachment) -> None:
        await self._conn.execute(delete(t.attachment).where(_c.id == attachment.id))

    async def of_record(
        self, workspace_id: UUID, record_type: AttachedTo, record_id: UUID, page: PageRequest
    ) -> Page[Attachment]:
        query = select(t.attachment).where(
            _c.workspace_id == workspace_id,
            _c.record_type == record_type.value,
            _c.record_id == record_id,
            _c.status == AttachmentStatus.READY.value,
        )
        if page.after is not None:
            query = query.where(
                tuple_(_c.created_at, _c.id) < (page.after.created_at, page.after.id)
            )
        query = query.order_by(_c.created_at.desc(), _c.id.desc()).limit(page.limit + 1)
        rows = (await self._conn.execute(query)).mappings().all()
        return page_of([attachment_to_domain(r) for r in rows], page.limit)

    async def any_of_record(
        self, workspace_id: UUID, record_type: AttachedTo, record_id: UUID, limit: int
    ) -> list[Attachment]:
        query = (
            select(t.attachment)
            .where(
                _c.workspace_id == workspace_id,
                _c.record_type == record_type.value,
                _c.record_id == record_id,
            )
            .order_by(_c.created_at, _c.id)
            .limit(limit)
        )
        rows = (await self._conn.execute(query)).mappings().all()
        return [attachment_to_domain(r) for r in rows]

    async def move(
        self, workspace_id: UUID, record_type: AttachedTo, source_id: UUID, target_id: UUID
    ) -> int:
        query = (
            update(t.attachment)
            .where(
                _c.workspace_id == workspace_id,
                _c.record_type == record_type.value,
                _c.record_id == source_id,
            )
            .values(record_id=target_id, version=_c.version + 1)
        )
        return int((await self._conn.execute(query)).rowcount)
