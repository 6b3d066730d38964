"""Repositories on one SQLAlchemy AsyncConnection (SQL Core, explicit mapping, no lazy loads)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import ARRAY, Text, Uuid, all_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.event_log import INSERT_EVENTS, event_params
from crm.adapters.postgres.external_ids import check_external_id, external_id_race
from crm.adapters.postgres.mapping import (
    contact_to_domain,
    contact_to_row,
)
from crm.domain.errors import EmailAlreadyInUse, VersionConflict
from crm.domain.model.contact import Contact
from crm.domain.model.events import DomainEvent


class _Repository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn


_c, _e = t.contact.c, t.contact_email.c
# The write statements are built once; each execution only binds values, so SQLAlchemy
# compiles each of them once per process (a statement built per call with `.values(...)` is
# coerced, cache-keyed and often recompiled on every request).
_INSERT_CONTACT = insert(t.contact)
_UPDATE_CONTACT = (
    update(t.contact)
    .where(_c.id == bindparam("match_id"), _c.version == bindparam("match_version"))
    .returning(_c.id)
)
_DELETE_CONTACT = delete(t.contact).where(_c.id == bindparam("match_id"))
_RELEASE_EMAILS = delete(t.contact_email).where(
    _e.contact_id == bindparam("contact_id"),
    _e.email != all_(bindparam("keep", type_=ARRAY(Text))),
)
_CLAIMED = select(
    bindparam("workspace_id", type_=Uuid),
    func.unnest(bindparam("emails", type_=ARRAY(Text))),
    bindparam("contact_id", type_=Uuid),
)
_claim = pg_insert(t.contact_email).from_select(["workspace_id", "email", "contact_id"], _CLAIMED)
# Re-claiming our own email is a no-op; only someone else's row blocks the insert.
_CLAIM_EMAILS = _claim.on_conflict_do_update(
    index_elements=[_e.workspace_id, _e.email],
    set_={"contact_id": _claim.excluded.contact_id},
    where=_e.contact_id == _claim.excluded.contact_id,
).returning(_e.email)


class SqlContactRepository(_Repository):
    async def add(self, contact: Contact) -> None:
        await check_external_id(self._conn, t.contact, contact)
        with external_id_race(t.contact, contact):
            await self._conn.execute(_INSERT_CONTACT, contact_to_row(contact))
        await self._claim_emails(contact, contact.emails)

    async def get_for_update(self, workspace_id: UUID, contact_id: UUID) -> Contact | None:
        query = (
            select(t.contact)
            .where(_c.workspace_id == workspace_id, _c.id == contact_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().one_or_none()
        return contact_to_domain(row) if row else None

    async def save(self, contact: Contact, expected_version: int) -> None:
        values = {**contact_to_row(contact), "match_id": contact.id}
        values["match_version"] = expected_version
        await check_external_id(self._conn, t.contact, contact)
        with external_id_race(t.contact, contact):
            updated = (await self._conn.execute(_UPDATE_CONTACT, values)).one_or_none()
        if updated is None:
            raise VersionConflict("The contact was changed by another writer.")
        keep = {"contact_id": contact.id, "keep": list(contact.emails)}
        await self._conn.execute(_RELEASE_EMAILS, keep)
        await self._claim_emails(contact, contact.emails)

    async def remove(self, contact: Contact) -> None:
        await self._conn.execute(_DELETE_CONTACT, {"match_id": contact.id})

    async def _claim_emails(self, contact: Contact, emails: Sequence[str]) -> None:
        """Take each email for this contact; one owned by another contact is refused."""
        if not emails:
            return
        params = {
            "workspace_id": contact.workspace_id,
            "emails": list(emails),
            "contact_id": contact.id,
        }
        claimed = set((await self._conn.execute(_CLAIM_EMAILS, params)).scalars())
        for index, email in enumerate(emails):
            if email not in claimed:
                raise EmailAlreadyInUse.at(index, email)


class SqlOutbox(_Repository):
    async def add(self, events: Iterable[DomainEvent]) -> None:
        """The events and the records each concerns (its timeline rows): one statement."""
        batch = list(events)
        if batch:
            await self._conn.execute(INSERT_EVENTS, event_params(batch))
