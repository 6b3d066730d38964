"""External ids (another system's key for a contact or a deal), unique per workspace: single
writes name the record that holds one, and a race lost at the constraint is the same 409."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol
from uuid import UUID

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.domain.errors import ExternalIdTaken


class _Keyed(Protocol):
    id: UUID
    workspace_id: UUID
    external_id: str | None


async def check_external_id(conn: AsyncConnection, table: Table, record: _Keyed) -> None:
    """409 naming the other record of the workspace that has the record's external id."""
    if record.external_id is None:
        return
    c = table.c
    query = select(c.id).where(
        c.workspace_id == record.workspace_id,
        c.external_id == record.external_id,
        c.id != record.id,
    )
    holder = (await conn.execute(query)).scalar()
    if holder is not None:
        raise ExternalIdTaken.held_by(table.name, record.external_id, holder)


@contextmanager
def external_id_race(table: Table, record: _Keyed) -> Iterator[None]:
    """A concurrent writer took the external id between the check and the write."""
    try:
        yield
    except IntegrityError as e:
        unique = f"uq_{table.name}_workspace_id_external_id"
        if record.external_id is None or unique not in str(e.orig):
            raise
        raise ExternalIdTaken.held_by(table.name, record.external_id, None) from e
