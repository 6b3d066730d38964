"""Every field with every operator it takes, on the memory and the Postgres adapter alike:
the same records come back (the contract suite checks chosen answers; this checks that the
two translations of the query tree never disagree, and that no combination fails in SQL)."""

from __future__ import annotations

from typing import Any

from crm.adapters.memory.search import InMemoryRecordSearch
from crm.adapters.memory.state import MemoryStore
from crm.adapters.memory.store import InMemoryUnitOfWork
from crm.adapters.postgres.search import AsyncpgRecordSearch
from crm.domain.errors import InvalidInput
from crm.domain.model import search_fields as sf
from crm.domain.model.custom_fields import FieldSchema, ObjectType
from crm.domain.model.search import SearchParser
from crm.domain.model.search_fields import Kind, Operator
from crm.domain.search_paging import SearchPage
from crm.ports.search import RecordSearch
from tests.support.search_world import World, build_world, search_of
from tests.support.stores import postgres

SAMPLES: dict[Kind, list[Any]] = {
    Kind.TEXT: ["Ada", "acme.com", "Software", "GB", "eur", "a", "Lovelace", "%", "x_y"],
    Kind.TEXT_LIST: ["ada@acme.com", "@acme.com", "+14155552671", "4155", "grace"],
    Kind.ENUM: ["lead", "customer", "51-200", "open", "won", "gold"],
    Kind.UUID: ["01a2272e-8193-765d-92db-c19bd8624455"],
    Kind.NUMBER: [0, 100, 3.5, 7, 5000],
    Kind.DATE: ["2026-02-01", "2026-05-01"],
    Kind.DATETIME: ["2026-03-01T09:30:03Z", "2026-01-02T10:00:00Z"],
    Kind.BOOLEAN: [True, False],
    Kind.SET: ["vip", "navy", "fr", "de"],
}


QS = ["a", "ac", "ace", "acme", "navy", "Ada Lov", "4155", "renewal", "smal", "cor", "e"]


def fields(world: World, object_type: ObjectType) -> list[str]:
    own = list(sf.FIELDS[object_type])
    linked = [
        f"{sf.RELATION_NAMES[o]}.{name}"
        for o in sf.ASSOCIATIONS[object_type]
        for name in sf.FIELDS[o]
    ]
    custom = [f"custom_fields.{d.key}" for d in world.fields if not d.archived]
    return own + linked + (custom if object_type is ObjectType.CONTACT else [])


def bodies(world: World, object_type: ObjectType) -> list[dict[str, Any]]:
    parser = SearchParser(object_type, lambda raw: raw, FieldSchema(object_type, world.fields))
    found = []
    for name in fields(world, object_type):
        looked_up = parser._lookup(name)
        assert not isinstance(looked_up, str), looked_up
        kind = looked_up[1].kind
        for operator in sf.OPERATORS[kind]:
            for sample in SAMPLES[kind]:
                value: Any = {
                    Operator.IS_NULL: sample is True,
                    Operator.IN: [sample, SAMPLES[kind][0]],
                    Operator.NOT_IN: [sample],
                }.get(operator, sample)
                found.append({"field": name, "operator": operator.value, "value": value})
    return [{"filter_groups": [{"filters": [f]}]} for f in found]


async def answers(search: RecordSearch, world: World) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for object_type in ObjectType:
        fetch = search_of(search, object_type)
        schema = FieldSchema(object_type, world.fields)
        parser = SearchParser(object_type, lambda raw: "".join(raw.split()), schema)
        for body in bodies(world, object_type):
            try:
                query = parser.parse(body)
            except InvalidInput:  # a sample that does not fit the field (a phone, a domain)
                continue
            found = await fetch(world.ws, query, SearchPage(200))
            result[f"{object_type} {body}"] = [world.name_of(r.id) for r in found.items]
        for q in QS:  # closest first (relevance), then in the sort asked
            for body in ({}, {"sort": "created_at"}):
                found = await fetch(world.ws, parser.parse(body, q), SearchPage(200))
                result[f"{object_type} {body} {q}"] = [world.name_of(r.id) for r in found.items]
    return result


async def test_memory_and_postgres_agree_on_every_field_and_operator(database_url: str) -> None:
    store = MemoryStore()
    in_memory = await answers(
        InMemoryRecordSearch(store), await build_world(lambda: InMemoryUnitOfWork(store))
    )
    async with postgres(database_url) as (uow, pool):
        in_postgres = await answers(AsyncpgRecordSearch(pool), await build_world(uow))
    assert len(in_memory) > 500
    differences = {
        k: (v, in_postgres.get(k)) for k, v in in_memory.items() if in_postgres.get(k) != v
    }
    assert differences == {}
