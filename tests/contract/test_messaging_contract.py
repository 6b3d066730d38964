"""One contract for the MessagingProvider port, run against the in-memory and Graph API adapters
(the latter against a local stub of the WhatsApp Cloud API's wire format)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from crm.adapters.graph.messaging import GraphMessagingProvider
from crm.adapters.memory.messaging import InMemoryMessagingProvider
from crm.domain.errors import InvalidInput, PortError, ServiceUnavailable
from crm.domain.model.messaging import (
    MAX_TEXT,
    ChannelTokenRejected,
    MediaCorrupted,
    MediaTooLarge,
    RecipientUnreachable,
    ReplyWindowClosed,
    Sender,
    WhatsAppUnavailable,
)
from crm.ports.messaging import MessagingProvider
from tests.support.graph_stub import DOWNLOAD_PATH, GraphStub
from tests.support.servers import free_port

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAGcontractTestToken5c2f9e"
SENDER = Sender(PHONE_NUMBER_ID, TOKEN)
CUSTOMER = "16505551234"
INBOUND = "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
PHOTO = os.urandom(150_000)
PHOTO_SHA256 = hashlib.sha256(PHOTO).hexdigest()

Received = tuple[str, str, str | None]
MakeProvider = Callable[..., GraphMessagingProvider]


class Provider:
    """The far side of an adapter: what the contract arranges there and reads back."""

    messaging: MessagingProvider

    def close_reply_window(self) -> None:
        raise NotImplementedError

    def revoke_token(self) -> None:
        raise NotImplementedError

    def fail_transiently(self) -> None:
        raise NotImplementedError

    def add_media(self, media_id: str, data: bytes, mime_type: str, sha256: str) -> None:
        raise NotImplementedError

    def received(self) -> list[Received]:
        """(to, text, the message replied to) of each text the provider accepted."""
        raise NotImplementedError


class MemoryProvider(Provider):
    def __init__(self) -> None:
        self.messaging = self.memory = InMemoryMessagingProvider()

    def close_reply_window(self) -> None:
        self.memory.fail_next(ReplyWindowClosed("over 24 hours"))

    def revoke_token(self) -> None:
        self.memory.fail_next(ChannelTokenRejected("token revoked"))

    def fail_transiently(self) -> None:
        self.memory.fail_next(ServiceUnavailable("WhatsApp is down"))

    def add_media(self, media_id: str, data: bytes, mime_type: str, sha256: str) -> None:
        self.memory.add_media(media_id, data, mime_type, sha256=sha256)

    def received(self) -> list[Received]:
        return [(s.to, s.text, s.reply_to) for s in self.memory.sent]


class StubProvider(Provider):
    def __init__(self, stub: GraphStub, messaging: GraphMessagingProvider) -> None:
        self.stub, self.messaging = stub, messaging

    def close_reply_window(self) -> None:
        self.stub.fail_next(131047, 400)

    def revoke_token(self) -> None:
        self.stub.add_number(PHONE_NUMBER_ID, "EAAGaNewTokenTheOldOneIsDead")

    def fail_transiently(self) -> None:
        self.stub.fail_next(130429, 400)

    def add_media(self, media_id: str, data: bytes, mime_type: str, sha256: str) -> None:
        self.stub.add_media(media_id, data, mime_type, sha256=sha256)

    def received(self) -> list[Received]:
        return [
            (b["to"], b["text"]["body"], b.get("context", {}).get("message_id"))
            for b in self.stub.accepted
        ]


class MessagingContract:
    """Each subclass provides `provider` for its adapter, from the fixtures that adapter needs."""

    async def test_a_sent_text_gets_a_wamid_and_the_recipients_wa_id(
        self, provider: Provider
    ) -> None:
        first = await provider.messaging.send_text(SENDER, CUSTOMER, "Hello")
        second = await provider.messaging.send_text(SENDER, "+" + CUSTOMER, "Again")
        assert first.message_id.startswith("wamid.")
        assert first.message_id != second.message_id
        assert first.wa_id == second.wa_id == CUSTOMER

    async def test_the_provider_receives_recipient_text_and_the_reply_context(
        self, provider: Provider
    ) -> None:
        await provider.messaging.send_text(SENDER, CUSTOMER, "Plain")
        await provider.messaging.send_text(SENDER, CUSTOMER, "Quoted", reply_to=INBOUND)
        assert provider.received() == [(CUSTOMER, "Plain", None), (CUSTOMER, "Quoted", INBOUND)]

    async def test_a_text_of_4096_characters_goes_and_one_more_is_refused_before_sending(
        self, provider: Provider
    ) -> None:
        longest = "é" * MAX_TEXT
        await provider.messaging.send_text(SENDER, CUSTOMER, longest)
        with pytest.raises(InvalidInput) as raised:
            await provider.messaging.send_text(SENDER, CUSTOMER, longest + "x")
        assert [(e.field, e.code) for e in raised.value.errors] == [("/text", "too_long")]
        assert provider.received() == [(CUSTOMER, longest, None)]

    @pytest.mark.parametrize(
        ("to", "text", "reply_to", "field"),
        [
            (CUSTOMER, " \n", None, "/text"),
            ("not a number", "Hi", None, "/to"),
            (CUSTOMER, "Hi", "", "/reply_to"),
        ],
    )
    async def test_what_cannot_be_sent_is_invalid_input_and_not_sent(
        self, provider: Provider, to: str, text: str, reply_to: str | None, field: str
    ) -> None:
        with pytest.raises(InvalidInput) as raised:
            await provider.messaging.send_text(SENDER, to, text, reply_to=reply_to)
        assert [e.field for e in raised.value.errors] == [field]
        assert provider.received() == []

    async def test_a_closed_reply_window_is_reply_window_closed(self, provider: Provider) -> None:
        provider.close_reply_window()
        with pytest.raises(ReplyWindowClosed):
            await provider.messaging.send_text(SENDER, CUSTOMER, "Still there?")
        assert provider.received() == []

    async def test_a_refused_token_is_channel_token_rejected(self, provider: Provider) -> None:
        provider.revoke_token()
        with pytest.raises(ChannelTokenRejected) as raised:
            await provider.messaging.send_text(SENDER, CUSTOMER, "Hello")
        assert TOKEN not in str(raised.value)

    async def test_a_transient_failure_is_service_unavailable_and_passes(
        self, provider: Provider
    ) -> None:
        provider.fail_transiently()
        with pytest.raises(ServiceUnavailable):
            await provider.messaging.send_text(SENDER, CUSTOMER, "Hello")
        assert await provider.messaging.send_text(SENDER, CUSTOMER, "Hello")

    async def test_media_comes_with_its_type_and_checksum(self, provider: Provider) -> None:
        provider.add_media("1037543291543636", PHOTO, "image/jpeg", PHOTO_SHA256)
        media = await provider.messaging.fetch_media(SENDER, "1037543291543636", len(PHOTO))
        assert media.data == PHOTO
        assert (media.mime_type, media.sha256, media.filename) == ("image/jpeg", PHOTO_SHA256, None)

    async def test_a_base64_checksum_as_in_webhooks_is_checked_too(
        self, provider: Provider
    ) -> None:
        b64 = base64.b64encode(hashlib.sha256(PHOTO).digest()).decode()
        provider.add_media("2001", PHOTO, "image/jpeg", b64)
        assert (await provider.messaging.fetch_media(SENDER, "2001", len(PHOTO))).data == PHOTO

    async def test_media_over_the_cap_is_media_too_large(self, provider: Provider) -> None:
        provider.add_media("2002", PHOTO, "image/jpeg", PHOTO_SHA256)
        with pytest.raises(MediaTooLarge):
            await provider.messaging.fetch_media(SENDER, "2002", len(PHOTO) - 1)

    @pytest.mark.parametrize("claimed", ["0" * 64, hashlib.sha256(b"other").hexdigest(), "n/a"])
    async def test_media_not_matching_its_checksum_is_refused(
        self, provider: Provider, claimed: str
    ) -> None:
        provider.add_media("2003", PHOTO, "image/jpeg", claimed)
        with pytest.raises(MediaCorrupted):
            await provider.messaging.fetch_media(SENDER, "2003", len(PHOTO))

    async def test_unknown_media_is_a_port_error_that_retrying_cannot_fix(
        self, provider: Provider
    ) -> None:
        with pytest.raises(PortError) as raised:
            await provider.messaging.fetch_media(SENDER, "404404", 1000)
        assert not isinstance(raised.value, ServiceUnavailable)

    async def test_a_media_id_that_could_change_the_path_is_refused(
        self, provider: Provider
    ) -> None:
        with pytest.raises(InvalidInput):
            await provider.messaging.fetch_media(SENDER, "../me", 1000)


def test_a_sender_never_shows_its_token() -> None:
    assert TOKEN not in repr(SENDER)
    with pytest.raises(InvalidInput):
        Sender("not-digits", TOKEN)
    with pytest.raises(InvalidInput):
        Sender(PHONE_NUMBER_ID, "with space")


class TestInMemoryMessagingProvider(MessagingContract):
    @pytest.fixture
    def provider(self) -> Provider:
        return MemoryProvider()

    async def test_fail_next_fails_that_many_calls_and_records_none(self) -> None:
        memory = InMemoryMessagingProvider()
        memory.fail_next(ServiceUnavailable("down"), times=2)
        for _ in range(2):
            with pytest.raises(ServiceUnavailable):
                await memory.send_text(SENDER, CUSTOMER, "Hi")
        assert memory.sent == []
        sent = await memory.send_text(SENDER, CUSTOMER, "Hi")
        assert [s.message_id for s in memory.sent] == [sent.message_id]
        assert memory.sent[0].phone_number_id == PHONE_NUMBER_ID

    async def test_the_log_flag_shows_number_recipient_and_text(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="crm.whatsapp")
        await InMemoryMessagingProvider().send_text(SENDER, CUSTOMER, "Quiet")
        assert not caplog.records
        await InMemoryMessagingProvider(log=True).send_text(SENDER, CUSTOMER, "Logged")
        (record,) = caplog.records
        for part in (PHONE_NUMBER_ID, CUSTOMER, "Logged"):
            assert part in record.getMessage()
        assert TOKEN not in record.getMessage()


@pytest.fixture
def stub() -> Iterator[GraphStub]:
    with GraphStub() as running:
        running.add_number(PHONE_NUMBER_ID, TOKEN)
        yield running


@pytest_asyncio.fixture
async def make_provider(stub: GraphStub) -> AsyncIterator[MakeProvider]:
    made: list[GraphMessagingProvider] = []

    def make(**options: Any) -> GraphMessagingProvider:
        options = {"base_url": stub.url, "version": stub.version, "timeout": 5.0, **options}
        made.append(GraphMessagingProvider(**options))
        return made[-1]

    yield make
    for provider in made:
        await provider.close()


class TestGraphMessagingProvider(MessagingContract):
    @pytest.fixture
    def provider(self, stub: GraphStub, make_provider: MakeProvider) -> Provider:
        return StubProvider(stub, make_provider())

    async def test_a_reply_has_the_documented_wire_shape(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        sent = await make_provider().send_text(SENDER, CUSTOMER, "Thanks!", reply_to=INBOUND)
        (request,) = stub.requests
        assert (request.method, request.path) == ("POST", f"/v21.0/{PHONE_NUMBER_ID}/messages")
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["content-type"] == "application/json"
        assert request.json == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "text",
            "text": {"preview_url": False, "body": "Thanks!"},
            "context": {"message_id": INBOUND},
        }
        assert sent.message_id.startswith("wamid.HBgL")

    async def test_a_text_that_is_not_a_reply_has_no_context(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        await make_provider().send_text(SENDER, CUSTOMER, "Hello")
        assert "context" not in stub.requests[-1].json

    @pytest.mark.parametrize(
        ("code", "status", "expected"),
        [
            (190, 401, ChannelTokenRejected),
            (0, 401, ChannelTokenRejected),
            (10, 403, ChannelTokenRejected),
            (131047, 400, ReplyWindowClosed),
            (131026, 400, RecipientUnreachable),
            (130429, 400, WhatsAppUnavailable),
            (130429, 429, WhatsAppUnavailable),
            (131056, 400, WhatsAppUnavailable),
            (4, 400, WhatsAppUnavailable),
            (131000, 500, WhatsAppUnavailable),
            (None, 500, WhatsAppUnavailable),
            (None, 502, WhatsAppUnavailable),
            (None, 429, WhatsAppUnavailable),
            (None, 401, ChannelTokenRejected),
            (100, 400, PortError),
            (131009, 400, PortError),
            (None, 404, PortError),
        ],
    )
    async def test_graph_errors_map_by_code_then_status(
        self,
        stub: GraphStub,
        make_provider: MakeProvider,
        code: int | None,
        status: int,
        expected: type[Exception],
    ) -> None:
        stub.fail_next(code, status)
        with pytest.raises(expected) as raised:
            await make_provider().send_text(SENDER, CUSTOMER, "Hello")
        assert type(raised.value) is expected

    async def test_metas_message_is_logged_with_its_trace_id_and_kept_out_of_the_error(
        self, stub: GraphStub, make_provider: MakeProvider, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="crm.whatsapp")
        stub.fail_next(100, 400, message=f"(#100) Secret internals, token {TOKEN}")
        with pytest.raises(PortError) as raised:
            await make_provider().send_text(SENDER, CUSTOMER, "Hello")
        assert "Secret internals" not in str(raised.value)
        assert "code 100" in str(raised.value)
        (record,) = caplog.records
        assert "Secret internals" in record.getMessage()
        trace = re.search(r"fbtrace_id (A[0-9a-f]{22})", record.getMessage())
        assert trace is not None
        assert trace.group(1) in str(raised.value)
        assert TOKEN not in caplog.text
        assert TOKEN not in str(raised.value)

    async def test_a_200_without_a_message_id_is_a_port_error_not_retried(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.fail_next(None, 200, message="<html>Welcome to the captive portal</html>")
        with pytest.raises(PortError, match="without a message id") as raised:
            await make_provider().send_text(SENDER, CUSTOMER, "Hello")
        assert not isinstance(raised.value, WhatsAppUnavailable)

    async def test_a_token_of_another_number_is_a_port_error_the_stub_says_no_object(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_number("999000111", "EAAGtokenOfAnotherNumber")
        with pytest.raises(PortError, match="code 100") as raised:
            await make_provider().send_text(
                Sender(PHONE_NUMBER_ID, "EAAGtokenOfAnotherNumber"), CUSTOMER, "Hello"
            )
        assert not isinstance(raised.value, WhatsAppUnavailable)

    async def test_an_unreachable_server_is_service_unavailable(
        self, make_provider: MakeProvider
    ) -> None:
        provider = make_provider(base_url=f"http://127.0.0.1:{free_port()}")
        with pytest.raises(ServiceUnavailable, match="unreachable") as raised:
            await provider.send_text(SENDER, CUSTOMER, "Hello")
        assert isinstance(raised.value.__cause__, httpx.ConnectError)

    async def test_a_stalled_server_is_service_unavailable(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.delay = 2.0
        with pytest.raises(ServiceUnavailable, match="in time"):
            await make_provider(timeout=0.2).send_text(SENDER, CUSTOMER, "Hello")

    async def test_media_is_looked_up_for_the_number_then_downloaded_with_the_bearer(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3001", b"%PDF-1.7", "application/pdf", phone_number_id=PHONE_NUMBER_ID)
        media = await make_provider().fetch_media(SENDER, "3001", 1000)
        assert (media.data, media.mime_type) == (b"%PDF-1.7", "application/pdf")
        info, download = stub.requests
        assert (info.method, info.path) == ("GET", "/v21.0/3001")
        assert info.query == {"phone_number_id": PHONE_NUMBER_ID}
        assert (download.method, download.path) == ("GET", DOWNLOAD_PATH)
        assert download.query["mid"] == "3001"
        for request in (info, download):
            assert request.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_media_of_another_number_is_not_served(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3002", b"x", "image/png", phone_number_id="999000111")
        with pytest.raises(PortError, match="code 100"):
            await make_provider().fetch_media(SENDER, "3002", 1000)

    async def test_media_announced_over_the_cap_is_never_downloaded(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3003", PHOTO, "image/jpeg")
        with pytest.raises(MediaTooLarge):
            await make_provider().fetch_media(SENDER, "3003", 1000)
        assert [r.path for r in stub.requests] == ["/v21.0/3003"]

    async def test_media_of_unannounced_size_is_cut_off_at_the_cap(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3004", PHOTO, "image/jpeg", announce_size=False)
        provider = make_provider()
        with pytest.raises(MediaTooLarge):
            await provider.fetch_media(SENDER, "3004", 100_000)
        assert (await provider.fetch_media(SENDER, "3004", len(PHOTO))).data == PHOTO

    async def test_a_body_without_end_is_cut_off_at_the_cap_not_read_to_the_timeout(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3009", b"\0" * 65536, "video/mp4", sha256=None, endless=True)
        with pytest.raises(MediaTooLarge):
            await make_provider(media_timeout=5.0).fetch_media(SENDER, "3009", 1_000_000)

    async def test_media_without_a_checksum_is_accepted_and_typed_by_its_download(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3005", b"OggS", "audio/ogg", sha256=None)
        media = await make_provider().fetch_media(SENDER, "3005", 1000)
        assert media.sha256 == hashlib.sha256(b"OggS").hexdigest()
        assert media.mime_type == "audio/ogg"

    @pytest.mark.parametrize(
        ("code", "status", "expected"),
        [
            (190, 401, ChannelTokenRejected),
            (None, 500, WhatsAppUnavailable),
            (None, 403, PortError),
        ],
    )
    async def test_download_errors_map_like_api_errors(
        self,
        stub: GraphStub,
        make_provider: MakeProvider,
        code: int | None,
        status: int,
        expected: type[Exception],
    ) -> None:
        stub.add_media("3006", b"x", "image/png")
        stub.fail_next(code, status, path_contains=DOWNLOAD_PATH)
        with pytest.raises(expected) as raised:
            await make_provider().fetch_media(SENDER, "3006", 1000)
        assert type(raised.value) is expected
        assert stub.requests[-1].path == DOWNLOAD_PATH

    @pytest.mark.parametrize("url", ["ftp://files.example/x", "/relative/x", "http://[::1"])
    async def test_a_download_url_we_would_not_send_the_token_to_is_refused(
        self, stub: GraphStub, make_provider: MakeProvider, url: str
    ) -> None:
        stub.add_media("3007", b"x", "image/png", url=url)
        with pytest.raises(PortError, match="url"):
            await make_provider().fetch_media(SENDER, "3007", 1000)
        assert len(stub.requests) == 1

    async def test_with_an_https_api_the_token_never_goes_to_a_plain_http_url(self) -> None:
        provider = GraphMessagingProvider()
        try:
            assert provider._download_url("https://lookaside.fbsbx.com/x?mid=1", "1")
            with pytest.raises(PortError, match="url we do not fetch"):
                provider._download_url("http://lookaside.fbsbx.com/x?mid=1", "1")
        finally:
            await provider.close()

    async def test_a_stalled_media_fetch_gives_up_after_the_media_timeout(
        self, stub: GraphStub, make_provider: MakeProvider
    ) -> None:
        stub.add_media("3008", b"x", "image/png")
        stub.delay = 0.15
        with pytest.raises(ServiceUnavailable, match="took over"):
            await make_provider(media_timeout=0.25).fetch_media(SENDER, "3008", 1000)

    def test_a_bad_version_or_base_url_fails_at_construction(self) -> None:
        with pytest.raises(ValueError, match="version"):
            GraphMessagingProvider(version="21")
        with pytest.raises(ValueError, match="base URL"):
            GraphMessagingProvider(base_url="graph.facebook.com")

    async def test_close_closes_the_pool(self, stub: GraphStub) -> None:
        provider = GraphMessagingProvider(base_url=stub.url)
        await provider.send_text(SENDER, CUSTOMER, "Hello")
        await provider.close()
        assert provider._client.is_closed


@pytest.mark.parametrize(
    ("authorization", "body", "status", "code"),
    [
        (None, {}, 401, 190),
        ("Bearer wrong", {}, 401, 190),
        (f"Bearer {TOKEN}", {"to": CUSTOMER, "type": "text", "text": {"body": "x"}}, 400, 100),
        (
            f"Bearer {TOKEN}",
            {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text",
             "text": {"body": "x" * 4097}},
            400,
            100,
        ),
        (
            f"Bearer {TOKEN}",
            {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text",
             "text": {"body": "x"}, "extra": 1},
            400,
            100,
        ),
    ],
)  # fmt: skip
async def test_the_stub_refuses_what_the_real_api_refuses(
    stub: GraphStub, authorization: str | None, body: dict[str, Any], status: int, code: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{stub.url}/v21.0/{PHONE_NUMBER_ID}/messages", json=body, headers=headers
        )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["fbtrace_id"]
