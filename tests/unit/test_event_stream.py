"""The stream's rules (who sees which event) and the StreamEvents use case on memory adapters."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.event_stream import InMemoryEventBroadcaster, InMemoryEventReplay
from crm.adapters.memory.state import MemoryStore
from crm.domain.errors import InvalidQuery
from crm.domain.model import events as domain_events
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.event_stream import (
    REPLAY_LIMIT,
    EndReason,
    ResetReason,
    StreamFilter,
    TooManyStreams,
    read_action,
)
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import SCOPE_FOR, Action, ActorKind, Principal, Role, Scope
from crm.domain.use_cases.stream_events import (
    Ended,
    Opened,
    Reset,
    StreamCommand,
    StreamEvents,
    StreamItem,
    StreamOptions,
)
from crm.ports.credentials import CredentialChange
from crm.ports.event_stream import Signal

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
EVENT_CLASSES = [
    cls
    for _, cls in inspect.getmembers(domain_events, inspect.isclass)
    if issubclass(cls, domain_events.DomainEvent) and cls is not domain_events.DomainEvent
]
EXPECTED = {
    "contact": Action.READ_CONTACTS,
    "company": Action.READ_COMPANIES,
    "deal": Action.READ_DEALS,
    "pipeline": Action.READ_SCHEMA,
    "custom_field": Action.READ_SCHEMA,
    "tag": Action.READ_SCHEMA,
    "member": Action.READ_MEMBERS,
    "invitation": Action.INVITE_MEMBERS,
    "webhook_subscription": Action.MANAGE_WEBHOOKS,
    "chat": Action.READ_CONTACTS,
}
RECORD_READ = {
    RecordType.CONTACT: Action.READ_CONTACTS,
    RecordType.COMPANY: Action.READ_COMPANIES,
    RecordType.DEAL: Action.READ_DEALS,
}


def published(
    kind: str = "contact.created",
    aggregate_type: str = "contact",
    workspace_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime = T0,
) -> PublishedEvent:
    return PublishedEvent(
        id=uuid.uuid4(),
        type=kind,
        workspace_id=workspace_id or uuid.uuid4(),
        aggregate_type=aggregate_type,
        aggregate_id=uuid.uuid4(),
        actor_id=None,
        occurred_at=at,
        payload=payload or {},
    )


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.topic)
def test_every_event_the_domain_records_has_its_read_rule(cls: type[Any]) -> None:
    """No event type falls through to the audit-log fallback: each is decided on purpose."""
    if cls.aggregate_type in ("note", "task"):
        for record_type, action in RECORD_READ.items():
            e = published(cls.topic, cls.aggregate_type, payload={"record_type": record_type})
            assert read_action(e) is action
        if cls.aggregate_type == "task":
            e = published(cls.topic, "task", payload={"record_type": None})
            assert read_action(e) is Action.READ_CONTACTS
        return
    assert read_action(published(cls.topic, cls.aggregate_type)) is EXPECTED[cls.aggregate_type]


def test_an_unknown_kind_of_event_is_for_those_who_read_the_audit_log() -> None:
    assert read_action(published("invoice.paid", "invoice")) is Action.READ_AUDIT
    assert read_action(published("note.added", "note", payload={})) is Action.READ_AUDIT


def person(role: Role, workspace_id: uuid.UUID) -> Principal:
    return Principal(workspace_id, uuid.uuid4(), ActorKind.USER, role=role)


def key(scopes: set[Scope], workspace_id: uuid.UUID) -> Principal:
    return Principal(workspace_id, uuid.uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))


SAMPLES = [
    published(cls.topic, cls.aggregate_type, payload={"record_type": "deal"})
    for cls in EVENT_CLASSES
]


@pytest.mark.parametrize("role", list(Role))
def test_a_person_sees_what_their_role_may_read(role: Role) -> None:
    ws = uuid.uuid4()
    who = person(role, ws)
    wanted = StreamFilter.parse(who, None)
    for sample in SAMPLES:
        e = published(sample.type, sample.aggregate_type, ws, sample.payload)
        assert wanted.accepts(e) is who.may(read_action(e)), e.type
    invitation = published("invitation.created", "invitation", ws)
    assert wanted.accepts(invitation) is (role is not Role.MEMBER)


@pytest.mark.parametrize("scope", list(Scope))
def test_a_key_sees_what_its_scope_reads(scope: Scope) -> None:
    ws = uuid.uuid4()
    wanted = StreamFilter.parse(key({scope}, ws), None)
    for sample in SAMPLES:
        e = published(sample.type, sample.aggregate_type, ws, sample.payload)
        needed = SCOPE_FOR[read_action(e)]
        expected = scope is Scope.ADMIN or needed in (scope, "every key")
        assert wanted.accepts(e) is expected, (scope, e.type)


def test_types_and_the_workspace_narrow_the_stream() -> None:
    ws = uuid.uuid4()
    wanted = StreamFilter.parse(key({Scope.ADMIN}, ws), ["contact.*", "deal.moved"])
    assert wanted.accepts(published("contact.merged", "contact", ws))
    assert wanted.accepts(published("deal.moved", "deal", ws))
    assert not wanted.accepts(published("deal.created", "deal", ws))
    assert not wanted.accepts(published("contact.created", "contact"))  # another workspace


@pytest.mark.parametrize("bad", ["", "contact.", ".*", "*.*", "contact*", "CONTACT.*", "a.b.**"])
def test_a_bad_pattern_is_an_invalid_query(bad: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        StreamFilter.parse(key({Scope.ADMIN}, uuid.uuid4()), ["*", bad])
    assert [e.field for e in raised.value.errors] == ["types"]


class World:
    def __init__(self, **options: Any) -> None:
        self.store, self.clock = MemoryStore(), ManualClock(T0)
        self.broadcaster = InMemoryEventBroadcaster()
        replay = InMemoryEventReplay(self.store)
        self.streams = StreamEvents(self.broadcaster, replay, self.clock, StreamOptions(**options))
        self.ws = uuid.uuid4()
        self.who = key({Scope.ADMIN}, self.ws)

    def record(self, count: int, start: int = 0) -> list[domain_events.ContactCreated]:
        made = [
            domain_events.ContactCreated(
                id=uuid.uuid4(),
                workspace_id=self.ws,
                aggregate_id=uuid.uuid4(),
                occurred_at=T0 + timedelta(milliseconds=start + i),
                actor_id=None,
            )
            for i in range(count)
        ]
        self.store.state.outbox.extend(made)
        return made

    def open(self, last_event_id: str | None = None) -> AsyncIterator[StreamItem]:
        return aiter(self.streams.open(StreamCommand(self.who, None, last_event_id)))


async def first(items: AsyncIterator[StreamItem], count: int) -> list[StreamItem]:
    got = []
    async for item in items:
        got.append(item)
        if len(got) == count:
            break
    return got


async def test_a_resume_too_far_behind_resets() -> None:
    world = World()
    last = world.record(1)[0]
    world.record(REPLAY_LIMIT + 1, start=1)
    items = world.open(str(last.id))
    assert await first(items, 2) == [Opened(), Reset(ResetReason.TOO_FAR_BEHIND)]


async def test_a_resume_sends_exactly_the_limit() -> None:
    world = World()
    last = world.record(1)[0]
    after = world.record(REPLAY_LIMIT, start=1)
    got = await first(world.open(str(last.id)), REPLAY_LIMIT + 1)
    assert [e.id for e in got[1:] if isinstance(e, PublishedEvent)] == [e.id for e in after]


async def test_missed_events_are_caught_up_from_the_outbox_once() -> None:
    world = World(heartbeat_seconds=0.05)
    items = world.open()
    assert await first(items, 1) == [Opened()]
    seen = world.record(1, start=1)
    world.broadcaster.publish([PublishedEvent.of(seen[0])])
    assert [e.id for e in await first(items, 1) if isinstance(e, PublishedEvent)] == [seen[0].id]
    missed = world.record(2, start=2)  # committed elsewhere, never heard live
    world.broadcaster.interrupt_all(Signal.MISSED)
    world.broadcaster.publish([PublishedEvent.of(missed[1])])  # heard too: sent once
    got = await first(items, 2)
    assert [e.id for e in got if isinstance(e, PublishedEvent)] == [e.id for e in missed]


async def test_credential_changes_end_the_actor_s_streams_only() -> None:
    world = World()
    mine, other = world.open(), World().open()
    await first(mine, 1)
    await first(other, 1)
    world.streams.credentials_changed(CredentialChange(world.ws, world.who.actor_id))
    assert await first(mine, 1) == [Ended(EndReason.CREDENTIALS_CHANGED)]


async def test_the_cap_counts_open_streams_and_frees_closed_ones() -> None:
    world = World(max_per_actor=1)
    stream = world.streams.open(StreamCommand(world.who))
    with pytest.raises(TooManyStreams):
        world.streams.open(StreamCommand(world.who))
    stream.close()  # never iterated: its place comes back all the same
    world.streams.open(StreamCommand(world.who))


async def test_after_close_all_a_new_stream_ends_at_once() -> None:
    world = World()
    world.streams.close_all()
    assert await first(world.open(), 2) == [Opened(), Ended(EndReason.SHUTDOWN)]
