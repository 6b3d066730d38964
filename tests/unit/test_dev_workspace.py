"""`crm dev`'s workspace on the memory adapters: made once with the demo data, kept across
starts with a working key (#13 items 18 and 19)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from crm import bootstrap
from crm.adapters.memory.state import MemoryStore
from crm.domain.use_cases.manage_api_keys import RevokeApiKeyCommand
from crm.entrypoints import demo
from crm.entrypoints.dev import DEV_FILE, open_dev_workspace
from crm.settings import Settings


def container(store: MemoryStore) -> bootstrap.Container:
    settings = Settings(_env_file=None, database_url=None, redis_url=None)
    return bootstrap.build(settings, storage=bootstrap.memory_storage(store))


async def test_the_first_start_fills_a_realistic_small_crm(tmp_path: Path) -> None:
    store = MemoryStore()
    made = await open_dev_workspace(container(store), tmp_path)
    assert made.state == "created"
    assert made.demo == demo.DemoData(
        companies=6, contacts=50, deals=14, notes=20, tasks=12, tags=4, custom_fields=1
    )
    state = store.state
    assert len(state.contacts) == 50
    # The same data every time (a seeded random): the first contacts made are always these.
    first = sorted(state.contacts.values(), key=lambda c: c.created_at)[:3]
    assert [c.name for c in first] == ["Frances Hamilton", "Edsger Hamilton", "Dennis Backus"]
    assert len({c.emails[0] for c in state.contacts.values()}) == 50
    assert len(state.companies) == 6
    assert len(state.company_links) == 50
    [pipeline] = state.pipelines.values()
    per_stage = Counter(d.stage_id for d in state.deals.values())
    assert [per_stage[s.id] for s in pipeline.stages] == [2] * len(pipeline.stages)
    assert {d.status.value for d in state.deals.values()} == {"open", "won", "lost"}
    assert len(state.deal_history) > 14  # created, then moved along
    assert (len(state.notes), len(state.tasks)) == (20, 12)
    assert sum(t.is_done for t in state.tasks.values()) == 3
    assert {t.name for t in state.tags.values()} == set(demo.TAGS)
    [field] = state.custom_fields.values()
    assert field.key == "lead_source"
    assert {c.custom_fields["lead_source"] for c in state.contacts.values()} <= set(demo.SOURCES)
    assert {c.workspace_id for c in state.contacts.values()} == {made.workspace_id}


async def test_restarts_keep_the_workspace_and_its_key(tmp_path: Path) -> None:
    store = MemoryStore()
    first = await open_dev_workspace(container(store), tmp_path, fill=False)
    again = await open_dev_workspace(container(store), tmp_path)
    assert (again.workspace_id, again.api_key, again.state) == (
        first.workspace_id,
        first.api_key,
        "kept",
    )
    assert (len(store.state.workspaces), len(store.state.contacts)) == (1, 0)  # not refilled
    saved = tmp_path / DEV_FILE
    assert saved.stat().st_mode & 0o777 == 0o600
    assert json.loads(saved.read_text())["api_key"] == first.api_key


async def test_a_revoked_key_is_replaced_and_a_lost_workspace_made_again(tmp_path: Path) -> None:
    store = MemoryStore()
    c = container(store)
    first = await open_dev_workspace(c, tmp_path, fill=False)
    [key] = store.state.api_keys.values()
    await c.revoke_api_key.execute(RevokeApiKeyCommand(first.workspace_id, key.id))
    renewed = await open_dev_workspace(container(store), tmp_path)
    assert (renewed.workspace_id, renewed.state) == (first.workspace_id, "new key")
    assert renewed.api_key != first.api_key
    caller = await c.authenticate.execute(renewed.api_key)
    assert caller.principal is not None
    assert caller.principal.workspace_id == first.workspace_id
    assert store.state.contacts == {}  # not a first start: no demo data
    elsewhere = MemoryStore()  # another database: the remembered workspace is not there
    remade = await open_dev_workspace(container(elsewhere), tmp_path, fill=False)
    assert (remade.state, remade.workspace_id) == ("created", *elsewhere.state.workspaces)
