"""The records a search contract runs on: contacts, companies and deals with custom fields,
tags and links, written through a unit of work (memory or Postgres alike)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from crm.adapters.system.ids import Uuid7Generator
from crm.domain.model.company import Company, CompanyLink
from crm.domain.model.company_rules import SizeBand
from crm.domain.model.contact import Contact
from crm.domain.model.contact_rules import LifecycleStage
from crm.domain.model.custom_fields import CustomField, FieldType, ObjectType, SelectOption
from crm.domain.model.deal import Deal, LinkedObject
from crm.domain.model.pipeline import Pipeline, StageKind, StageSpec
from crm.domain.model.search import SearchQuery
from crm.domain.model.workspace import Workspace
from crm.domain.search_paging import SearchPage, SearchResult
from crm.ports.search import RecordSearch
from crm.ports.unit_of_work import UnitOfWorkFactory

IDS = Uuid7Generator()
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


Search = Callable[[UUID, SearchQuery, SearchPage], Awaitable[SearchResult[Any]]]


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def search_of(search: RecordSearch, object_type: ObjectType) -> Search:
    """The port's search of one kind of record."""
    searches: dict[ObjectType, Search] = {
        ObjectType.CONTACT: search.contacts,
        ObjectType.COMPANY: search.companies,
        ObjectType.DEAL: search.deals,
    }
    return searches[object_type]


def definition(
    ws: UUID, key: str, kind: FieldType, *options: str, archived: bool = False
) -> CustomField:
    return CustomField(
        IDS.new_id(), ws, ObjectType.CONTACT, key, key.title(), kind,
        tuple(SelectOption(o, o) for o in options), T0 if archived else None, T0, T0,
    )  # fmt: skip


def person(ws: UUID, n: int, updated: int, **fields: Any) -> Contact:
    values: dict[str, Any] = {
        "display_name": None, "first_name": None, "last_name": None, "emails": (),
        "phones": (), "job_title": None, "company_name": None, "owner_id": None, "tags": (),
        "lifecycle_stage": LifecycleStage.LEAD, "custom_fields": {},
    }  # fmt: skip
    values.update(fields)
    return Contact(IDS.new_id(), ws, **values, created_at=at(n), updated_at=at(updated))


def firm(ws: UUID, n: int, name: str, domain: str, industry: str, country: str) -> Company:
    return Company(
        IDS.new_id(), ws, name, domain, industry, SizeBand.M, country, None, None, None, (), {},
        at(n), at(n),
    )  # fmt: skip


def sale(
    p: Pipeline, n: int, name: str, amount: int | None, currency: str | None, **more: Any
) -> Deal:
    stage = p.stages[more.pop("stage", 0)]
    return Deal(
        IDS.new_id(), p.workspace_id, name, amount, currency, p.id, stage.id, stage.kind, None,
        more.pop("close", None), None, (), {}, at(n), at(n),
    )  # fmt: skip


@dataclass
class World:
    ws: UUID
    other_ws: UUID
    contacts: dict[str, Contact] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    deals: dict[str, Deal] = field(default_factory=dict)
    fields: list[CustomField] = field(default_factory=list)

    def name_of(self, record_id: UUID) -> str:
        every: dict[str, Contact | Company | Deal] = {
            **self.contacts,
            **self.companies,
            **self.deals,
        }
        return next(k for k, v in every.items() if v.id == record_id)


def _contacts(ws: UUID, other: UUID) -> dict[str, Contact]:
    return {
        "ada": person(
            ws, 1, 10, first_name="Ada", last_name="Lovelace", emails=("ada@acme.com",),
            phones=("+14155552671",), tags=("vip",), lifecycle_stage=LifecycleStage.CUSTOMER,
            external_id="crm-1",
            custom_fields={
                "score": 7, "plan": "gold", "renewal": "2026-05-01",
                "seen": "2026-01-02T10:00:00Z", "vip": True, "langs": ["en", "fr"], "old": "x",
            },
        ),
        "alan": person(
            ws, 2, 5, first_name="Alan", last_name="Turing", emails=("alan@bletchley.org",),
            custom_fields={"score": 3.5, "langs": ["de"]},
        ),
        "grace": person(
            ws, 3, 5, display_name="Grace Hopper", emails=("grace@acme.com", "grace@navy.mil"),
            phones=("+442071234567",), tags=("vip", "navy"),
            lifecycle_stage=LifecycleStage.OPPORTUNITY,
        ),
        "alexandra": person(
            ws, 4, 1, first_name="Alexandra", last_name="grey", phones=("+14155550000",),
            custom_fields={"score": 10},
        ),
        "stranger": person(other, 5, 5, first_name="Ada", emails=("ada@acme.com",), tags=("vip",)),
    }  # fmt: skip


async def build_world(uow: UnitOfWorkFactory) -> World:
    world = World(IDS.new_id(), IDS.new_id())
    ws = world.ws
    world.fields = [
        definition(ws, "score", FieldType.NUMBER),
        definition(ws, "plan", FieldType.SINGLE_SELECT, "gold", "silver"),
        definition(ws, "renewal", FieldType.DATE),
        definition(ws, "seen", FieldType.DATETIME),
        definition(ws, "vip", FieldType.BOOLEAN),
        definition(ws, "langs", FieldType.MULTI_SELECT, "en", "fr", "de"),
        definition(ws, "old", FieldType.TEXT, archived=True),
    ]
    world.contacts = _contacts(ws, world.other_ws)
    world.companies = {
        "acme": firm(ws, 1, "Acme Corp", "acme.com", "Software", "GB"),
        "navy": firm(ws, 2, "US Navy", "navy.mil", "Defense", "US"),
    }
    specs = [StageSpec("Lead", 10, StageKind.OPEN), StageSpec("Won", 100, StageKind.WON)]
    funnel = Pipeline.create(IDS.new_id(), ws, "Funnel", specs, IDS.new_id, T0)
    world.deals = {
        "renewal": sale(funnel, 1, "Acme renewal", 5000, "EUR"),
        "navy_deal": sale(funnel, 2, "Navy deal", None, None, stage=1),
        "small": sale(funnel, 3, "Small", 100, "USD", close=date(2026, 2, 1)),
    }
    async with uow() as tx:
        for w in (world.ws, world.other_ws):
            await tx.workspaces.add(Workspace(w, "Acme", T0))
        for f in world.fields:
            await tx.custom_fields.add(f)
        for c in world.contacts.values():
            await tx.contacts.add(c)
        for co in world.companies.values():
            await tx.companies.add(co)
        await _links(tx, world, funnel)
        await tx.commit()
    return world


async def _links(tx: Any, world: World, funnel: Pipeline) -> None:
    c, co, d = world.contacts, world.companies, world.deals
    await tx.company_links.write(
        [
            CompanyLink(world.ws, c["ada"].id, co["acme"].id, True, T0),
            CompanyLink(world.ws, c["grace"].id, co["acme"].id, True, T0),
            CompanyLink(world.ws, c["grace"].id, co["navy"].id, False, T0),
        ]
    )
    await tx.pipelines.add(funnel)
    for deal in d.values():
        await tx.deals.add(deal)
    links = [
        (LinkedObject.CONTACT, d["renewal"], c["ada"].id),
        (LinkedObject.COMPANY, d["renewal"], co["acme"].id),
        (LinkedObject.CONTACT, d["navy_deal"], c["grace"].id),
        (LinkedObject.COMPANY, d["navy_deal"], co["navy"].id),
    ]
    for kind, deal, other in links:
        await tx.deal_links.link(kind, world.ws, deal.id, other, T0)
