"""One contract for the PushSender port: the in-memory sender, and Firebase Cloud Messaging
through the real firebase-admin SDK against a local stub of the FCM HTTP v1 endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from crm.adapters.firebase.messaging import FirebasePushSender
from crm.adapters.memory.push import InMemoryPushSender
from crm.domain.errors import PortError
from crm.domain.model.push import NotificationKind, PushMessage
from crm.ports.push import PushSender
from tests.support.api import closed_port
from tests.support.fcm_stub import FcmStub

PROJECT = "crm-push-test"


def message(kind: NotificationKind = NotificationKind.TASK_ASSIGNED, **extra: str) -> PushMessage:
    task = uuid.uuid4()
    return PushMessage.of(
        kind,
        "New task for you",
        "Send the quote",
        task,
        workspace_id=uuid.uuid4(),
        task_id=task,
        deal_id=task,
        chat_id=task,
        **extra,
    )


@dataclass
class Subject:
    sender: PushSender
    kill: Any
    """kill(token): the provider says the token is gone for good."""
    throttle: Any
    """throttle(token): the provider cannot take messages for it now."""
    shown: Any
    """shown(token): (title, body, data) of each message the token was sent."""
    problems: Any = field(default=lambda: [])


class PushSenderContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    async def test_each_token_gets_the_message(self, subject: Subject) -> None:
        sent = message()
        outcome = await subject.sender.send(["phone", "tablet"], sent)
        assert (outcome.delivered, outcome.dead, outcome.failed) == (2, frozenset(), frozenset())
        for token in ("phone", "tablet"):
            assert subject.shown(token) == [(sent.title, sent.body, sent.data)]
        assert subject.problems() == []

    async def test_dead_tokens_are_reported_and_the_rest_delivered(self, subject: Subject) -> None:
        subject.kill("uninstalled")
        outcome = await subject.sender.send(["uninstalled", "phone"], message())
        assert outcome.delivered == 1
        assert outcome.dead == {"uninstalled"}
        assert outcome.failed == frozenset()
        assert subject.shown("uninstalled") == []
        assert len(subject.shown("phone")) == 1

    async def test_unreached_tokens_are_failed_not_dead(self, subject: Subject) -> None:
        subject.throttle("busy")
        outcome = await subject.sender.send(["busy", "phone"], message())
        assert (outcome.delivered, outcome.dead) == (1, frozenset())
        assert outcome.failed == {"busy"}

    async def test_every_kind_goes_out(self, subject: Subject) -> None:
        for kind in NotificationKind:
            sent = message(kind, due_at="2026-12-05T12:00:00+00:00")
            await subject.sender.send([kind.value], sent)
            assert subject.shown(kind.value) == [(sent.title, sent.body, sent.data)]
        assert subject.problems() == []

    async def test_no_tokens_no_send(self, subject: Subject) -> None:
        outcome = await subject.sender.send([], message())
        assert (outcome.delivered, outcome.dead, outcome.failed) == (0, frozenset(), frozenset())


class TestInMemoryPushSender(PushSenderContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        sender = InMemoryPushSender()

        def shown(token: str) -> list[tuple[str, str, dict[str, str]]]:
            return [(m.title, m.body, m.data) for m in sender.to(token)]

        yield Subject(sender, sender.dead.add, sender.unreachable.add, shown)


@pytest.fixture
def fcm() -> Iterator[FcmStub]:
    with FcmStub(PROJECT) as stub:
        yield stub


class TestFirebasePushSender(PushSenderContract):
    @pytest_asyncio.fixture
    async def subject(self, fcm: FcmStub) -> AsyncIterator[Subject]:
        sender = FirebasePushSender(PROJECT, fcm_url=fcm.url)

        def shown(token: str) -> list[tuple[str, str, dict[str, str]]]:
            return [
                (m["notification"]["title"], m["notification"]["body"], m["data"])
                for m in fcm.to(token)
            ]

        yield Subject(sender, fcm.dead.add, fcm.throttled.add, shown, lambda: fcm.violations)
        await sender.close()


class TestFirebaseSpecifics:
    """What only the FCM adapter has: the wire format and the SDK's failures."""

    async def test_the_message_on_the_wire(self, fcm: FcmStub) -> None:
        sender = FirebasePushSender(PROJECT, fcm_url=fcm.url)
        sent = message()
        try:
            await sender.send(["phone"], sent)
        finally:
            await sender.close()
        [wire] = fcm.received
        assert wire["token"] == "phone"
        assert wire["notification"] == {"title": sent.title, "body": sent.body}
        assert wire["data"] == sent.data
        assert wire["data"]["kind"] == "task_assigned"
        assert wire["android"] == {"priority": "high", "notification": {"tag": sent.tag}}
        assert wire["apns"]["headers"] == {"apns-collapse-id": sent.tag}
        assert wire["apns"]["payload"]["aps"] == {"sound": "default", "thread-id": "task_assigned"}

    async def test_an_invalid_token_is_dead(self, fcm: FcmStub) -> None:
        fcm.invalid.add("not-a-token")
        sender = FirebasePushSender(PROJECT, fcm_url=fcm.url)
        try:
            outcome = await sender.send(["not-a-token", "phone"], message())
        finally:
            await sender.close()
        assert outcome.dead == {"not-a-token"}
        assert outcome.delivered == 1

    async def test_an_unreachable_service_fails_every_token(self) -> None:
        sender = FirebasePushSender(PROJECT, fcm_url=f"http://127.0.0.1:{closed_port()}")
        try:
            outcome = await sender.send(["phone", "tablet"], message())
        finally:
            await sender.close()
        assert (outcome.delivered, outcome.dead) == (0, frozenset())
        assert outcome.failed == {"phone", "tablet"}

    async def test_many_tokens_go_in_chunks(self, fcm: FcmStub) -> None:
        sender = FirebasePushSender(PROJECT, fcm_url=fcm.url)
        tokens = [f"t-{i}" for i in range(250)]
        fcm.dead.update(tokens[::50])
        try:
            outcome = await sender.send(tokens, message())
        finally:
            await sender.close()
        assert outcome.delivered == 245
        assert outcome.dead == set(tokens[::50])
        assert len(fcm.received) == 245

    async def test_a_message_the_sdk_refuses_is_a_port_error(self, fcm: FcmStub) -> None:
        sender = FirebasePushSender(PROJECT, fcm_url=fcm.url)
        bad = PushMessage(NotificationKind.TASK_DUE, "t", "b", {"kind": 1})  # type: ignore[dict-item]
        try:
            with pytest.raises(PortError):
                await sender.send(["phone"], bad)
        finally:
            await sender.close()
        assert fcm.received == []
