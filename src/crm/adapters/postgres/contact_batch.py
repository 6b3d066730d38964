"""Batch writes of contacts in PostgreSQL: one locking read per batch, a multi-row insert,
pipelined updates and one statement each to release and claim emails, so a batch costs a
handful of round trips whatever its size. A unique value a concurrent writer took is reported
as the domain's conflict (the use case then retries item by item), never as a 500."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Text, Uuid, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.adapters.postgres import tables as t
from crm.adapters.postgres.mapping import contact_to_domain, contact_to_row
from crm.domain.errors import Conflict, DomainError, EmailAlreadyInUse, ExternalIdTaken
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal

_c, _e = t.contact.c, t.contact_email.c
UUIDS, TEXTS = ARRAY(Uuid), ARRAY(Text)

# Each branch uses its own index (primary key, the email claims, the GIN index on phones, the
# external id's unique constraint); one OR over them would scan the workspace's contacts. Phones
# are looked up one `@>` each: the planner misjudges `phones && <many>` and scans the table.
_LOCK_CONTACTS = (
    text(
        "SELECT contact.* FROM contact WHERE workspace_id = :ws AND id IN ("
        " SELECT unnest(CAST(:ids AS uuid[]))"
        " UNION SELECT contact_id FROM contact_email"
        "  WHERE workspace_id = :ws AND email = ANY(CAST(:emails AS text[]))"
        " UNION SELECT c.id FROM unnest(CAST(:phones AS text[])) AS p(phone) CROSS JOIN LATERAL"
        "  (SELECT id FROM contact WHERE workspace_id = :ws AND phones @> ARRAY[p.phone]) AS c"
        " UNION SELECT id FROM contact WHERE workspace_id = :ws"
        "  AND external_id = ANY(CAST(:external_ids AS text[]))"
        ") ORDER BY id FOR UPDATE"
    )
    .bindparams(
        bindparam("ws", type_=Uuid),
        bindparam("ids", type_=UUIDS),
        bindparam("emails", type_=TEXTS),
        bindparam("phones", type_=TEXTS),
        bindparam("external_ids", type_=TEXTS),
    )
    .columns(*t.contact.c)
)
_INSERT_CONTACTS = pg_insert(t.contact).on_conflict_do_nothing().returning(_c.id)
_UPDATE_CONTACTS = update(t.contact).where(
    _c.workspace_id == bindparam("match_ws"), _c.id == bindparam("match_id")
)
_claim = pg_insert(t.contact_email).from_select(
    ["workspace_id", "email", "contact_id"],
    select(
        bindparam("ws", type_=Uuid),
        func.unnest(bindparam("emails", type_=TEXTS)),
        func.unnest(bindparam("owners", type_=UUIDS)),
    ),
)
# Re-claiming a contact's own email is a no-op; only another contact's row blocks it.
_CLAIM_EMAILS = _claim.on_conflict_do_update(
    index_elements=[_e.workspace_id, _e.email],
    set_={"contact_id": _claim.excluded.contact_id},
    where=_e.contact_id == _claim.excluded.contact_id,
).returning(_e.email)
_RELEASE_EMAILS = text(
    "DELETE FROM contact_email WHERE workspace_id = :ws AND contact_id = ANY(:ids)"
    " AND (contact_id, email) NOT IN (SELECT unnest(:owners), unnest(:emails))"
).bindparams(
    bindparam("ws", type_=Uuid),
    bindparam("ids", type_=UUIDS),
    bindparam("owners", type_=UUIDS),
    bindparam("emails", type_=TEXTS),
)


# An import fills a table from empty in one process: a prepared statement's generic plan,
# chosen while the table was tiny, would keep scanning the whole workspace on every chunk as
# it grows (and without autovacuum nothing invalidates it). A batch plans its statements
# afresh instead; the planning costs far less than one such scan.
CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


@contextmanager
def refused(taken: DomainError) -> Iterator[None]:
    """A constraint that refuses a row the batch had checked (someone wrote it meanwhile), or
    a deadlock with a concurrent batch: a conflict, which the use case retries item by item."""
    try:
        yield
    except IntegrityError as e:
        if "unique" in str(e.orig).lower():
            raise taken from e
        raise _concurrent() from e
    except DBAPIError as e:
        if getattr(e.orig, "sqlstate", None) != _DEADLOCK:
            raise
        raise _concurrent() from e


_DEADLOCK = "40P01"


def _concurrent() -> Conflict:
    return Conflict("A concurrent change refused this write; retry the item.")


def row_updates(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "match_ws": r["workspace_id"], "match_id": r["id"]} for r in rows]


class SqlContactBatchStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock(
        self, workspace_id: UUID, ids: Collection[UUID], keys: Mapping[str, Collection[str]]
    ) -> list[Contact]:
        params = {
            "ws": workspace_id,
            "ids": list(ids),
            "emails": list(keys.get("email", ())),
            "phones": list(keys.get("phone", ())),
            "external_ids": list(keys.get("external_id", ())),
        }
        await self._conn.execute(CUSTOM_PLANS)
        rows = (await self._conn.execute(_LOCK_CONTACTS, params)).mappings()
        return [contact_to_domain(r) for r in rows]

    async def add_many(self, records: Sequence[Contact]) -> None:
        with refused(external_id_taken("contact", records)):
            result = await self._conn.execute(
                _INSERT_CONTACTS, [contact_to_row(c) for c in records]
            )
        inserted = set(result.scalars())
        missing = [c for c in records if c.id not in inserted]
        if missing:  # only the external id can conflict (ids are new)
            raise external_id_taken("contact", missing)
        await self._claim(records)

    async def save_many(self, records: Sequence[Contact]) -> None:
        rows = row_updates([contact_to_row(c) for c in records])
        with refused(external_id_taken("contact", records)):
            await self._conn.execute(_UPDATE_CONTACTS, rows)
        owners, emails = _email_pairs(records)
        release = {"ws": records[0].workspace_id, "ids": [c.id for c in records]}
        await self._conn.execute(_RELEASE_EMAILS, {**release, "owners": owners, "emails": emails})
        await self._claim(records)

    async def _claim(self, records: Sequence[Contact]) -> None:
        owners, emails = _email_pairs(records)
        if not emails:
            return
        params = {"ws": records[0].workspace_id, "emails": emails, "owners": owners}
        with refused(EmailAlreadyInUse.at(None, emails[0])):
            claimed = set((await self._conn.execute(_CLAIM_EMAILS, params)).scalars())
        taken = [e for e in emails if e not in claimed]
        if taken:
            raise EmailAlreadyInUse.at(None, taken[0])


def _email_pairs(records: Sequence[Contact]) -> tuple[list[UUID], list[str]]:
    # In email order: concurrent batches claiming the same new emails wait in one order.
    pairs = sorted(((c.id, e) for c in records for e in c.emails), key=lambda p: p[1])
    return [p[0] for p in pairs], [p[1] for p in pairs]


def external_id_taken(noun: str, records: Sequence[Contact] | Sequence[Deal]) -> DomainError:
    ids = [r.external_id for r in records if r.external_id is not None]
    return ExternalIdTaken.held_by(noun, ids[0] if len(ids) == 1 else "(one of the batch)", None)
