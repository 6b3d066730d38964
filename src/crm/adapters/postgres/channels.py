"""Connected WhatsApp numbers on one SQLAlchemy connection."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.paging import page_of
from crm.domain.errors import VersionConflict
from crm.domain.model.channels import PhoneNumberIdTaken, WhatsAppChannel
from crm.domain.pagination import Page, PageRequest

_c = t.whatsapp_channel.c


def channel_to_row(channel: WhatsAppChannel) -> dict[str, Any]:
    return dataclasses.asdict(channel)


def channel_to_domain(row: Any) -> WhatsAppChannel:
    return WhatsAppChannel(**dict(row))


class SqlChannelRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, channel: WhatsAppChannel) -> None:
        # ON CONFLICT DO NOTHING rather than catching the unique violation: a failed
        # statement would abort the caller's transaction.
        query = (
            pg_insert(t.whatsapp_channel)
            .values(channel_to_row(channel))
            .on_conflict_do_nothing(index_elements=[_c.phone_number_id])
            .returning(_c.id)
        )
        if (await self._conn.execute(query)).one_or_none() is None:
            raise PhoneNumberIdTaken.of(channel.phone_number_id)

    async def get(self, workspace_id: UUID, channel_id: UUID) -> WhatsAppChannel | None:
        return await self._one(workspace_id, channel_id, lock=False)

    async def get_for_update(self, workspace_id: UUID, channel_id: UUID) -> WhatsAppChannel | None:
        return await self._one(workspace_id, channel_id, lock=True)

    async def _one(
        self, workspace_id: UUID, channel_id: UUID, *, lock: bool
    ) -> WhatsAppChannel | None:
        query = select(t.whatsapp_channel).where(
            _c.workspace_id == workspace_id, _c.id == channel_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return None if row is None else channel_to_domain(row)

    async def by_phone_number_id(self, phone_number_id: str) -> WhatsAppChannel | None:
        query = select(t.whatsapp_channel).where(_c.phone_number_id == phone_number_id)
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return None if row is None else channel_to_domain(row)

    async def save(self, channel: WhatsAppChannel, expected_version: int) -> None:
        row = channel_to_row(channel)
        for fixed in ("id", "workspace_id", "phone_number_id", "created_at"):
            del row[fixed]
        query = update(t.whatsapp_channel).where(
            _c.id == channel.id, _c.version == expected_version
        )
        done = await self._conn.execute(query.values(row))
        if done.rowcount == 0:
            raise VersionConflict("The channel changed meanwhile.")

    async def remove(self, channel: WhatsAppChannel) -> None:
        await self._conn.execute(delete(t.whatsapp_channel).where(_c.id == channel.id))

    async def list(self, workspace_id: UUID, page: PageRequest) -> Page[WhatsAppChannel]:
        query = select(t.whatsapp_channel).where(_c.workspace_id == workspace_id)
        if page.after is not None:
            query = query.where(
                tuple_(_c.created_at, _c.id) > (page.after.created_at, page.after.id)
            )
        query = query.order_by(_c.created_at, _c.id).limit(page.limit + 1)
        rows = (await self._conn.execute(query)).mappings().all()
        return page_of([channel_to_domain(r) for r in rows], page.limit)
