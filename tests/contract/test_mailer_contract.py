"""One contract for the Mailer port, run against the in-memory and Mailchimp Transactional
adapters (the latter against a local stub of the real API's wire format)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from crm.adapters.mailchimp.mailer import MailchimpTransactionalMailer
from crm.adapters.memory.mailer import InMemoryMailer
from crm.domain.errors import DeliveryRejected, ServiceUnavailable
from crm.ports.mailer import EmailMessage, Mailer
from tests.support.mandrill_stub import MandrillStub

API_KEY = "md-contract-test-key-3f9a"
FROM = "crm@example.com"
INVITE = EmailMessage(
    to="ada@example.com",
    subject="You are invited",
    text="Join: https://crm.example.com/invite/abc",
    html="<p>Join: <a href='https://crm.example.com/invite/abc'>here</a></p>",
    to_name="Ada Lovelace",
    tags=("invitation", "workspace"),
)
PLAIN = EmailMessage(to="bob@example.com", subject="Hello", text="Plain text only")

MakeMailer = Callable[..., MailchimpTransactionalMailer]


class Provider:
    """The far side of an adapter: what the contract arranges there and reads back."""

    mailer: Mailer

    def reject(self, email: str, reason: str) -> None:
        raise NotImplementedError

    def fail_transiently(self) -> None:
        raise NotImplementedError

    def received(self) -> list[EmailMessage]:
        raise NotImplementedError


class MemoryProvider(Provider):
    def __init__(self) -> None:
        self.mailer = self.memory = InMemoryMailer()

    def reject(self, email: str, reason: str) -> None:
        self.memory.fail_next(DeliveryRejected(f"{email} rejected: {reason}"))

    def fail_transiently(self) -> None:
        self.memory.fail_next(ServiceUnavailable("mail is down"))

    def received(self) -> list[EmailMessage]:
        return self.memory.sent


class StubProvider(Provider):
    def __init__(self, stub: MandrillStub, mailer: MailchimpTransactionalMailer) -> None:
        self.stub, self.mailer = stub, mailer

    def reject(self, email: str, reason: str) -> None:
        self.stub.reject(email, reason)

    def fail_transiently(self) -> None:
        self.stub.fail_next(500, "GeneralError")

    def received(self) -> list[EmailMessage]:
        return [_as_email(r.json["message"]) for r in self.stub.requests]


def _as_email(message: dict[str, Any]) -> EmailMessage:
    """The recorded wire message read back as the port's type, so both sides compare equal."""
    (to,) = message["to"]
    return EmailMessage(
        to["email"], message["subject"], message["text"], message.get("html"), to.get("name"),
        tuple(message.get("tags", [])),
    )  # fmt: skip


class MailerContract:
    """Each subclass provides `provider` for its adapter, from the fixtures that adapter needs."""

    async def test_a_sent_message_gets_a_provider_id(self, provider: Provider) -> None:
        first = await provider.mailer.send(INVITE)
        second = await provider.mailer.send(PLAIN)
        assert isinstance(first, str)
        assert first not in ("", second)

    async def test_the_provider_receives_recipient_subject_bodies_and_tags(
        self, provider: Provider
    ) -> None:
        await provider.mailer.send(INVITE)
        await provider.mailer.send(PLAIN)
        assert provider.received() == [INVITE, PLAIN]

    async def test_a_rejected_recipient_is_a_delivery_rejected_naming_the_reason(
        self, provider: Provider
    ) -> None:
        provider.reject("ada@example.com", "hard-bounce")
        with pytest.raises(DeliveryRejected, match="hard-bounce"):
            await provider.mailer.send(INVITE)

    async def test_a_transient_failure_is_service_unavailable_and_passes(
        self, provider: Provider
    ) -> None:
        provider.fail_transiently()
        with pytest.raises(ServiceUnavailable):
            await provider.mailer.send(INVITE)
        assert await provider.mailer.send(INVITE)


class TestInMemoryMailer(MailerContract):
    @pytest.fixture
    def provider(self) -> Provider:
        return MemoryProvider()

    async def test_ids_match_the_recorded_messages(self) -> None:
        mailer = InMemoryMailer()
        ids = [await mailer.send(INVITE), await mailer.send(PLAIN)]
        assert mailer.ids == ids
        assert mailer.by_id(ids[1]) is PLAIN
        with pytest.raises(KeyError):
            mailer.by_id("nope")

    async def test_fail_next_fails_that_many_sends_and_records_none(self) -> None:
        mailer = InMemoryMailer()
        mailer.fail_next(ServiceUnavailable("down"), times=2)
        for _ in range(2):
            with pytest.raises(ServiceUnavailable):
                await mailer.send(INVITE)
        assert mailer.sent == []
        assert await mailer.send(INVITE)

    async def test_the_log_flag_shows_recipient_subject_and_text(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="crm.mail")
        await InMemoryMailer().send(PLAIN)
        assert not caplog.records
        await InMemoryMailer(log=True).send(INVITE)
        (record,) = caplog.records
        assert record.name == "crm.mail"
        assert record.levelno == logging.INFO
        for part in (INVITE.to, INVITE.subject, INVITE.text):
            assert part in record.getMessage()


@pytest.fixture
def stub() -> Iterator[MandrillStub]:
    with MandrillStub(api_key=API_KEY) as running:
        yield running


@pytest_asyncio.fixture
async def make_mailer(stub: MandrillStub) -> AsyncIterator[MakeMailer]:
    made: list[MailchimpTransactionalMailer] = []

    def make(key: str = API_KEY, **options: Any) -> MailchimpTransactionalMailer:
        options = {"base_url": stub.url, "timeout": 5.0, **options}
        made.append(MailchimpTransactionalMailer(key, from_email=FROM, from_name="CRM", **options))
        return made[-1]

    yield make
    for mailer in made:
        await mailer.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class TestMailchimpTransactionalMailer(MailerContract):
    @pytest.fixture
    def provider(self, stub: MandrillStub, make_mailer: MakeMailer) -> Provider:
        return StubProvider(stub, make_mailer())

    async def test_the_request_has_the_documented_wire_shape(
        self, stub: MandrillStub, make_mailer: MakeMailer
    ) -> None:
        message_id = await make_mailer().send(INVITE)
        (request,) = stub.requests
        assert (request.method, request.path) == ("POST", "/api/1.0/messages/send")
        assert request.headers["content-type"] == "application/json"
        assert request.json == {
            "key": API_KEY,
            "message": {
                "from_email": FROM,
                "from_name": "CRM",
                "subject": INVITE.subject,
                "text": INVITE.text,
                "html": INVITE.html,
                "to": [{"email": "ada@example.com", "name": "Ada Lovelace", "type": "to"}],
                "tags": ["invitation", "workspace"],
            },
        }
        assert len(message_id) == 32

    async def test_an_invalid_key_is_rejected_without_showing_the_key(
        self,
        stub: MandrillStub,
        make_mailer: MakeMailer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        wrong = "md-wrong-key-7c1e"
        with pytest.raises(DeliveryRejected, match="Invalid_Key") as raised:
            await make_mailer(key=wrong).send(INVITE)
        assert stub.requests[-1].json["key"] == wrong
        assert wrong not in str(raised.value)
        assert wrong not in repr(raised.value)
        assert wrong not in caplog.text

    @pytest.mark.parametrize(
        ("status", "name", "expected"),
        [
            (500, "GeneralError", ServiceUnavailable),
            (200, None, ServiceUnavailable),
            (503, None, ServiceUnavailable),
            (429, None, ServiceUnavailable),
            (500, "Invalid_Key", DeliveryRejected),
            (400, "ValidationError", DeliveryRejected),
            (500, "PaymentRequired", DeliveryRejected),
            (500, "Unknown_Subaccount", DeliveryRejected),
            (403, None, DeliveryRejected),
        ],
    )
    async def test_error_answers_map_by_name_then_status(
        self,
        stub: MandrillStub,
        make_mailer: MakeMailer,
        status: int,
        name: str | None,
        expected: type[Exception],
    ) -> None:
        stub.fail_next(status, name, message="provider says no")
        with pytest.raises(expected, match=str(status)):
            await make_mailer().send(INVITE)

    @pytest.mark.parametrize("status", ["queued", "scheduled"])
    async def test_queued_and_scheduled_count_as_sent(
        self, stub: MandrillStub, make_mailer: MakeMailer, status: str
    ) -> None:
        stub.set_status(INVITE.to, status)
        assert await make_mailer().send(INVITE)

    async def test_an_invalid_recipient_is_rejected(self, make_mailer: MakeMailer) -> None:
        with pytest.raises(DeliveryRejected, match="invalid"):
            await make_mailer().send(EmailMessage(to="ada@example..com", subject="s", text="t"))

    async def test_a_request_the_api_finds_invalid_is_rejected(
        self, make_mailer: MakeMailer
    ) -> None:
        reserved = EmailMessage(to=INVITE.to, subject="s", text="t", tags=("_reserved",))
        with pytest.raises(DeliveryRejected, match="ValidationError"):
            await make_mailer().send(reserved)

    async def test_an_unreachable_server_is_service_unavailable(
        self, make_mailer: MakeMailer
    ) -> None:
        mailer = make_mailer(base_url=f"http://127.0.0.1:{closed_port()}/api/1.0")
        with pytest.raises(ServiceUnavailable, match="unreachable") as raised:
            await mailer.send(INVITE)
        assert isinstance(raised.value.__cause__, httpx.ConnectError)

    async def test_a_slow_server_is_service_unavailable(
        self, stub: MandrillStub, make_mailer: MakeMailer
    ) -> None:
        stub.delay = 2.0
        with pytest.raises(ServiceUnavailable, match="in time"):
            await make_mailer(timeout=0.2).send(INVITE)

    async def test_close_closes_only_a_client_it_created(self, stub: MandrillStub) -> None:
        async with httpx.AsyncClient() as client:
            shared = MailchimpTransactionalMailer(
                API_KEY, from_email=FROM, base_url=stub.url, client=client
            )
            await shared.send(PLAIN)
            await shared.close()
            assert not client.is_closed
        own = MailchimpTransactionalMailer(API_KEY, from_email=FROM, base_url=stub.url)
        await own.close()
        assert own._client.is_closed


@pytest.mark.parametrize(
    ("content_type", "body", "status", "name"),
    [
        ("text/plain", {"key": API_KEY}, 400, "ValidationError"),
        ("application/json", {"message": {}}, 400, "ValidationError"),
        ("application/json", {"key": "nope", "message": {}}, 401, "Invalid_Key"),
        ("application/json", {"key": API_KEY, "message": {"subject": "s"}}, 400, "ValidationError"),
    ],
)
async def test_the_stub_refuses_what_the_real_api_refuses(
    stub: MandrillStub, content_type: str, body: dict[str, Any], status: int, name: str
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{stub.url}/messages/send",
            content=json.dumps(body),
            headers={"Content-Type": content_type},
        )
    assert response.status_code == status
    error = response.json()
    assert (error["status"], error["code"], error["name"]) == ("error", -1, name)
    assert error["message"]
