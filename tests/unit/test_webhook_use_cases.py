"""The webhook use cases on the memory adapters: fan-out, the delivery loop's retries and
disabling, the admins' email, manual retry, ping and secret rotation."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from uuid import UUID

import pytest

from crm.adapters.memory.webhook_sender import RecordingWebhookSender
from crm.domain.errors import InvalidInput, PermissionDenied
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.permissions import ActorKind, Principal, Role, Scope
from crm.domain.model.webhook_deliveries import AttemptResult, DeliveryStatus, WebhookDelivery
from crm.domain.model.webhooks import WebhookSubscriptionDisabled
from crm.domain.pagination import PageRequest, SortOrder
from crm.domain.use_cases.purge_outbox import PurgeOutbox
from crm.domain.use_cases.webhook_subscriptions import UpdateWebhookSubscriptionCommand
from tests.contract.test_persistence_contract import contact
from tests.support.webhook_world import T0, WebhookWorld, published

LOG = PageRequest(limit=200, order=SortOrder.NEWEST_FIRST)


def sender(world: WebhookWorld) -> RecordingWebhookSender:
    assert isinstance(world.sender, RecordingWebhookSender)
    return world.sender


async def log(world: WebhookWorld, who: Principal, sub: UUID) -> list[WebhookDelivery]:
    return (await world.deliveries.execute(who, sub, LOG)).items


async def test_only_owners_admins_and_admin_keys_manage_webhooks() -> None:
    world = WebhookWorld()
    owner = await world.workspace()
    member = Principal(owner.workspace_id, owner.actor_id, ActorKind.USER, role=Role.MEMBER)
    key = Principal(owner.workspace_id, owner.actor_id, ActorKind.API_KEY, scopes=frozenset(Scope))
    writer = Principal(
        owner.workspace_id,
        owner.actor_id,
        ActorKind.API_KEY,
        scopes=frozenset({Scope.CONTACTS_WRITE}),
    )
    for refused in (member, writer):
        with pytest.raises(PermissionDenied):
            await world.subscribe(refused)
    admin = Principal(owner.workspace_id, owner.actor_id, ActorKind.USER, role=Role.ADMIN)
    for allowed in (admin, key):
        _, secret = await world.subscribe(allowed)
        assert secret.startswith("whsec_")


async def test_an_event_becomes_one_delivery_per_subscription_that_wants_it() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    every, _ = await world.subscribe(who, event_types=["*"])
    contacts, _ = await world.subscribe(who, event_types=["contact.*"])
    emails, _ = await world.subscribe(who, event_types=["contact.updated"], fields=["emails"])
    deals, _ = await world.subscribe(who, event_types=["deal.moved"])
    paused, _ = await world.subscribe(who, event_types=["*"], enabled=False)
    elsewhere = await world.workspace()
    theirs, _ = await world.subscribe(elsewhere)

    stored = contact(who.workspace_id, first_name="Grace")
    async with world.uow() as tx:
        await tx.contacts.add(stored)
        await tx.commit()
    changes = {"first_name": {"old": "Ada", "new": "Grace"}}
    await world.handle(published(who, "contact.updated", stored.id, changes=changes))
    await world.handle(published(who, "deal.moved", to_stage_id="s2"))

    counts = {s: len(await log(world, who, s)) for s in (every, contacts, emails, deals, paused)}
    assert counts == {every: 2, contacts: 1, emails: 0, deals: 1, paused: 0}
    assert await log(world, elsewhere, theirs) == []
    (update,) = [d for d in await log(world, who, contacts)]
    body = json.loads(update.body)
    assert body["type"] == "contact.updated"
    assert body["workspace_id"] == str(who.workspace_id)
    assert body["object"] == {"type": "contact", "id": str(stored.id)}
    assert body["record"]["first_name"] == "Grace"  # as stored when the delivery was made
    assert body["record"]["version"] == stored.version
    assert body["changes"] == changes
    assert "data" not in body
    (moved,) = [d for d in await log(world, who, deals)]
    assert json.loads(moved.body)["data"] == {"to_stage_id": "s2"}
    assert json.loads(moved.body)["record"] is None  # no such deal is stored


async def test_a_batch_of_events_fans_out_as_each_event_would_alone() -> None:
    one_by_one, together = WebhookWorld(), WebhookWorld()
    made: list[list[tuple[str, str, dict[str, object]]]] = []
    for world, run_all in ((one_by_one, False), (together, True)):
        who = await world.workspace()
        subs = [
            (await world.subscribe(who, event_types=types, fields=fields))[0]
            for types, fields in (
                (["*"], None),
                (["contact.updated"], ["emails"]),
                (["deal.*"], None),
            )
        ]
        other = await world.workspace()
        theirs, _ = await world.subscribe(other)
        stored = contact(who.workspace_id, first_name="Grace")
        async with world.uow() as tx:
            await tx.contacts.add(stored)
            await tx.commit()
        events = [
            published(
                who, "contact.updated", stored.id, changes={"emails": {"old": [], "new": []}}
            ),
            published(
                who, "contact.updated", stored.id, changes={"first_name": {"old": "A", "new": "B"}}
            ),
            published(who, "deal.moved", to_stage_id="s2"),
            published(other, "contact.created", stored.id),  # not theirs to read: no record
            published(who, "task.created"),
        ]
        if run_all:
            await world.handle_all(events)
        else:
            for e in events:
                await world.handle(e)
        rows = []
        for sub_owner, sub in [(who, s) for s in subs] + [(other, theirs)]:
            for d in await log(world, sub_owner, sub):
                body = json.loads(d.body)
                rows.append((str(subs.index(sub)) if sub in subs else "theirs", body["type"], body))
        made.append(sorted(rows, key=lambda r: (r[0], r[1], json.dumps(r[2], sort_keys=True))))

    def shape(
        rows: list[tuple[str, str, dict[str, object]]],
    ) -> list[tuple[str, str, object, object]]:
        return [(s, t, b["record"] is None, b.get("changes")) for s, t, b in rows]

    assert shape(made[0]) == shape(made[1])
    assert len(made[1]) == 4 + 1 + 1 + 1  # every: 4 of who's; emails: 1; deal.*: 1; theirs: 1


async def test_a_deleted_record_sends_what_its_event_recorded() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    sub, _ = await world.subscribe(who)
    gone: dict[str, object] = {"id": "c1", "first_name": "Ada", "version": 3}
    await world.handle(published(who, "contact.deleted", None, **gone))
    body = json.loads((await log(world, who, sub))[0].body)
    assert body["record"] == gone
    assert body["data"] == gone


async def test_deliveries_are_signed_and_retried_with_backoff_until_they_succeed() -> None:
    world = WebhookWorld(jitter=0.5)
    who = await world.workspace()
    sub, secret = await world.subscribe(who)
    event = published(who, "contact.created")
    await world.handle(event)
    sender(world).answer(AttemptResult(500, 7), AttemptResult(None, 10_000, "timed out after 10 s"))

    assert await world.deliver.execute() == 1
    (d,) = await log(world, who, sub)
    assert (d.status, d.attempts, d.status_code, d.error) == (
        DeliveryStatus.PENDING,
        1,
        500,
        "HTTP 500",
    )
    assert d.next_attempt_at == T0 + timedelta(seconds=5)  # 0.5 * 10 s
    assert await world.deliver.execute() == 0  # not due yet
    world.clock.advance(seconds=5)
    assert await world.deliver.execute() == 1
    (d,) = await log(world, who, sub)
    assert (d.attempts, d.error) == (2, "timed out after 10 s")
    assert d.next_attempt_at == T0 + timedelta(seconds=5 + 10)  # 0.5 * 20 s
    world.clock.advance(seconds=10)
    assert await world.deliver.execute() == 1
    (d,) = await log(world, who, sub)
    assert (d.status, d.attempts, d.status_code, d.error, d.next_attempt_at) == (
        DeliveryStatus.SUCCEEDED,
        3,
        200,
        None,
        None,
    )

    sent = sender(world).sent
    assert len(sent) == 3
    assert len({s.body for s in sent}) == 1
    last = sent[-1]
    assert last.headers["CRM-Event-ID"] == str(event.id)
    assert last.headers["CRM-Event-Type"] == "contact.created"
    assert last.headers["CRM-Delivery-ID"] == str(d.id)
    t, v1 = last.headers["CRM-Signature"].split(",")
    assert t == f"t={int(world.clock.now().timestamp())}"
    mac = hmac.new(secret.encode(), f"{t[2:]}.".encode() + last.body, hashlib.sha256)
    assert v1 == f"v1={mac.hexdigest()}"


async def test_a_subscription_failing_for_3_days_is_disabled_and_admins_are_emailed() -> None:
    world = WebhookWorld(jitter=0.99)
    who = await world.workspace(
        ("admin@acme.example", Role.ADMIN), ("member@acme.example", Role.MEMBER)
    )
    sub, _ = await world.subscribe(who)
    sender(world).answer(*[AttemptResult(503, 3)] * 1000)
    await world.handle(published(who, "contact.created"))
    while True:
        (d,) = await log(world, who, sub)
        if d.next_attempt_at is None:
            break
        world.clock.advance(seconds=(d.next_attempt_at - world.clock.now()).total_seconds())
        await world.deliver.execute()
    assert world.clock.now() == T0 + timedelta(days=3)  # the window's last attempt
    async with world.uow() as tx:
        s = await tx.webhook_subscriptions.get(who.workspace_id, sub)
        events = [e for e in world.store.state.outbox if e.topic == "webhook_subscription.disabled"]
    assert s is not None
    assert (s.enabled, s.disabled_reason, s.failing_since) == (False, "failing", T0)
    (disabled,) = events
    assert disabled.payload["reason"] == "failing"

    await world.email.handle(PublishedEvent.of(disabled))
    assert sorted(m.to for m in world.mailer.sent) == ["admin@acme.example", "owner@acme.example"]
    assert str(sub) in world.mailer.sent[0].text

    await world.handle(published(who, "contact.created"))  # no delivery while disabled
    assert len(await log(world, who, sub)) == 1
    with pytest.raises(WebhookSubscriptionDisabled):
        await world.ping.execute(who, sub)


async def test_410_disables_at_once_and_holds_the_other_pending_deliveries() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    sub, _ = await world.subscribe(who)
    sender(world).answer(AttemptResult(410, 3))
    await world.handle(published(who, "contact.created"))
    assert await world.deliver.execute() == 1
    await world.handle(published(who, "contact.updated"))  # disabled: no delivery
    (gone,) = await log(world, who, sub)
    assert (gone.status, gone.error) == (
        DeliveryStatus.FAILED,
        "HTTP 410 Gone: the subscription was disabled",
    )
    async with world.uow() as tx:
        s = await tx.webhook_subscriptions.get(who.workspace_id, sub)
    assert s is not None
    assert (s.enabled, s.disabled_reason) == (False, "gone")

    await world.update.execute(_enable(who, sub))
    await world.handle(published(who, "contact.updated"))
    assert await world.deliver.execute() == 1


def _enable(who: Principal, sub: UUID) -> UpdateWebhookSubscriptionCommand:
    return UpdateWebhookSubscriptionCommand(who, sub, {"enabled": True})


async def test_a_success_forgets_earlier_failures() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    sub, _ = await world.subscribe(who)
    sender(world).answer(AttemptResult(500, 1))
    await world.handle(published(who, "contact.created"))
    await world.deliver.execute()
    async with world.uow() as tx:
        failing = await tx.webhook_subscriptions.get(who.workspace_id, sub)
    assert failing is not None
    assert failing.failing_since == T0
    world.clock.advance(days=1)
    await world.deliver.execute()
    async with world.uow() as tx:
        healed = await tx.webhook_subscriptions.get(who.workspace_id, sub)
    assert healed is not None
    assert healed.failing_since is None


async def test_manual_retry_and_ping_go_through_the_same_path() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    sub, _ = await world.subscribe(who)
    ping = await world.ping.execute(who, sub)
    assert (ping.event_type, ping.status) == ("ping", DeliveryStatus.PENDING)
    sender(world).answer(AttemptResult(410, 1))
    await world.deliver.execute()
    await world.update.execute(_enable(who, sub))
    world.clock.advance(hours=1)
    again = await world.retry.execute(who, sub, ping.id)
    assert (again.status, again.next_attempt_at) == (DeliveryStatus.PENDING, world.clock.now())
    assert again.give_up_at == world.clock.now() + world.policy.window
    assert await world.deliver.execute() == 1
    (done,) = await log(world, who, sub)
    assert (done.status, done.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    body = json.loads(sender(world).sent[-1].body)
    assert (body["type"], body["object"]) == (
        "ping",
        {"type": "webhook_subscription", "id": str(sub)},
    )


async def test_rotation_signs_with_both_secrets_for_a_day() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    sub, old = await world.subscribe(who)
    _, new = await world.rotate.execute(who, sub)
    assert new != old
    await world.ping.execute(who, sub)
    await world.deliver.execute()
    world.clock.advance(hours=24)
    await world.ping.execute(who, sub)
    await world.deliver.execute()
    first, second = (s.headers["CRM-Signature"] for s in sender(world).sent)
    assert first.count("v1=") == 2
    assert second.count("v1=") == 1


async def test_urls_resolving_inside_are_refused_at_creation() -> None:
    world = WebhookWorld()
    world.resolver.point("inside.example.com", "10.0.0.7")
    world.resolver.point("mixed.example.com", "93.184.216.34", "127.0.0.1")
    who = await world.workspace()
    for url in (
        "https://inside.example.com/",
        "https://mixed.example.com/",
        "https://nowhere.example/",
    ):
        with pytest.raises(InvalidInput) as refused:
            await world.subscribe(who, url=url)
        assert refused.value.code == "webhook_url_refused"
    made, _ = await world.subscribe(who, url="https://hooks.example.com/ok")
    world.resolver.point("hooks.example.com", "10.0.0.8")
    with pytest.raises(InvalidInput):
        await world.update.execute(_change(who, made, {"url": "https://hooks.example.com/moved"}))


def _change(
    who: Principal, sub: UUID, changes: dict[str, object]
) -> UpdateWebhookSubscriptionCommand:
    return UpdateWebhookSubscriptionCommand(who, sub, changes)


async def test_crm_outbox_purge_forgets_finished_deliveries_past_their_retention() -> None:
    world = WebhookWorld()
    who = await world.workspace()
    sub, _ = await world.subscribe(who)
    await world.ping.execute(who, sub)
    await world.deliver.execute()  # succeeded
    sender(world).answer(AttemptResult(500, 1))
    await world.ping.execute(who, sub)
    await world.deliver.execute()  # pending, retried later
    world.clock.advance(days=31)
    purge = PurgeOutbox(world.uow, world.clock, None, timedelta(days=14), 1000, timedelta(days=30))
    assert (await purge.execute()).deliveries == 1
    (left,) = await log(world, who, sub)
    assert left.status is DeliveryStatus.PENDING
