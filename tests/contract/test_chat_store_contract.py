"""One contract for the ChatStore port, run against the in-memory store and DynamoDB (moto's
server, started by the test harness on a free port; a fresh table per test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from botocore.exceptions import ClientError

from crm.adapters.dynamodb.chats import CONFLICT_ATTEMPTS, DynamoDbChatStore
from crm.adapters.dynamodb.client import DynamoDbEndpoint, TableMissing
from crm.adapters.dynamodb.resources import create_chats_table
from crm.adapters.memory.chats import InMemoryChatStore
from crm.domain.errors import ServiceUnavailable
from crm.domain.model.chats import (
    ChatFilter,
    ChatNotFound,
    ChatPosition,
    ChatRef,
    Direction,
    Message,
    MessageKind,
    MessagePosition,
    MessageStatus,
    StatusOutcome,
)
from crm.ports.chats import ChatStore
from tests.support.servers import free_port

T0 = datetime(2026, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)
CHANNEL = "106540352242922"


def ref(n: int = 0) -> ChatRef:
    return ChatRef(CHANNEL, f"+1415555{n:04d}")


def message(
    provider_id: str | None = None,
    at: datetime = T0,
    direction: Direction = Direction.INBOUND,
    text: str | None = "hello",
) -> Message:
    return Message(
        provider_id or f"wamid.{uuid4().hex}",
        direction,
        MessageKind.TEXT if text else MessageKind.IMAGE,
        at,
        text=text,
        media_key=None if text else "ws/media/1.jpg",
        metadata={"profile": {"name": "Ana"}, "n": 1},
    )


class ChatStoreContract:
    """Each subclass provides `store` for its adapter."""

    async def test_a_provider_id_is_stored_once_and_counted_once(self, store: ChatStore) -> None:
        ws, first = uuid4(), message("wamid.A")
        appended = await store.append(ws, ref(), first)
        again = await store.append(ws, ref(), message("wamid.A", at=T0 + timedelta(hours=1)))
        assert appended.stored
        assert not again.stored
        assert again.chat_id == appended.chat_id == ref().chat_id(ws)
        chat = await store.get(ws, appended.chat_id)
        assert chat is not None
        assert (chat.unread_count, chat.message_count, chat.last_activity_at) == (1, 1, T0)
        assert (chat.customer_phone, chat.channel_id, chat.last_message_preview) == (
            ref().customer_phone,
            CHANNEL,
            "hello",
        )
        page = await store.list_messages(ws, appended.chat_id, 10, None)
        assert page.items == [first]
        assert page.next is None

    async def test_concurrent_appends_to_one_chat_are_all_kept(self, store: ChatStore) -> None:
        ws = uuid4()
        sent = [message(at=T0 + timedelta(microseconds=i)) for i in range(20)]
        results = await asyncio.gather(*(store.append(ws, ref(), m) for m in sent))
        assert all(r.stored for r in results)
        chat = await store.get(ws, results[0].chat_id)
        assert chat is not None
        assert (chat.unread_count, chat.message_count) == (20, 20)
        assert chat.last_activity_at == T0 + timedelta(microseconds=19)
        page = await store.list_messages(ws, chat.id, 50, None)
        assert [m.provider_id for m in page.items] == [m.provider_id for m in reversed(sent)]

    async def test_an_older_message_counts_but_leaves_activity_and_preview(
        self, store: ChatStore
    ) -> None:
        ws = uuid4()
        await store.append(ws, ref(), message(text="new", at=T0))
        done = await store.append(ws, ref(), message(text=None, at=T0 - timedelta(days=1)))
        await store.append(ws, ref(), message(direction=Direction.OUTBOUND, at=T0 - timedelta(1)))
        chat = await store.get(ws, done.chat_id)
        assert chat is not None
        assert (chat.last_activity_at, chat.last_message_preview) == (T0, "new")
        assert (chat.unread_count, chat.message_count) == (2, 3)  # outbound is never unread
        later = await store.append(ws, ref(), message(text=None, at=T0 + timedelta(seconds=1)))
        chat = await store.get(ws, later.chat_id)
        assert chat is not None
        assert chat.last_message_preview == "[image]"

    async def test_a_status_only_moves_forward(self, store: ChatStore) -> None:
        ws = uuid4()
        out = message("wamid.OUT", direction=Direction.OUTBOUND)
        chat_id = (await store.append(ws, ref(), out)).chat_id
        assert await store.apply_status(ws, "wamid.OUT", MessageStatus.READ) == "applied"
        assert await store.apply_status(ws, "wamid.OUT", MessageStatus.DELIVERED) == "refused"
        assert await store.apply_status(ws, "wamid.OUT", MessageStatus.FAILED) == "refused"
        assert await store.apply_status(ws, "wamid.OUT", MessageStatus.READ) == "unchanged"
        (stored,) = (await store.list_messages(ws, chat_id, 10, None)).items
        assert stored.status is MessageStatus.READ
        other = message("wamid.F", direction=Direction.OUTBOUND)
        await store.append(ws, ref(), other)
        assert await store.apply_status(ws, "wamid.F", MessageStatus.DELIVERED) == "applied"
        assert await store.apply_status(ws, "wamid.F", MessageStatus.FAILED) == "applied"
        assert await store.apply_status(ws, "wamid.F", MessageStatus.READ) == "refused"
        assert await store.apply_status(ws, "wamid.F", MessageStatus.SENT) == "refused"

    async def test_a_status_for_an_unknown_message_is_reported(self, store: ChatStore) -> None:
        ws = uuid4()
        await store.append(ws, ref(), message("wamid.X"))
        outcome = await store.apply_status(ws, "wamid.nobody", MessageStatus.READ)
        assert outcome is StatusOutcome.UNKNOWN_MESSAGE
        elsewhere = await store.apply_status(uuid4(), "wamid.X", MessageStatus.READ)
        assert elsewhere is StatusOutcome.UNKNOWN_MESSAGE  # another workspace's message

    async def test_chats_page_by_last_activity_without_duplicates_or_gaps(
        self, store: ChatStore
    ) -> None:
        ws = uuid4()
        for n in range(7):  # chats 5 and 6 share their last activity: the id breaks the tie
            await store.append(ws, ref(n), message(at=T0 + timedelta(minutes=min(n, 5))))
        seen, after, pages = [], None, 0
        while True:
            page = await store.list_chats(ws, ChatFilter(), 3, after)
            seen += page.items
            pages += 1
            if page.next is None:
                break
            after = ChatPosition.decode(page.next.encode())  # through the client's cursor
        assert pages == 3
        assert len(seen) == len({c.id for c in seen}) == 7
        keys = [(c.last_activity_at, c.id) for c in seen]
        assert keys == sorted(keys, reverse=True)

    async def test_messages_page_newest_first_without_duplicates_or_gaps(
        self, store: ChatStore
    ) -> None:
        ws = uuid4()
        times = [T0 + timedelta(microseconds=n // 2) for n in range(7)]  # pairs share a time
        sent = [message(f"wamid.{n}", at=at) for n, at in enumerate(times)]
        for m in sent:
            await store.append(ws, ref(), m)
        chat_id = ref().chat_id(ws)
        seen, after = [], None
        while True:
            page = await store.list_messages(ws, chat_id, 2, after)
            seen += page.items
            if page.next is None:
                break
            after = MessagePosition.decode(page.next.encode())
        expected = sorted(sent, key=lambda m: (m.sent_at, m.provider_id), reverse=True)
        assert seen == expected

    async def test_filters_unread_and_contact(self, store: ChatStore) -> None:
        ws, contact = uuid4(), uuid4()
        ids = [
            (await store.append(ws, ref(n), message(at=T0 + timedelta(n)))).chat_id
            for n in range(4)
        ]
        await store.mark_read(ws, ids[1])
        await store.mark_read(ws, ids[3])
        await store.set_contact(ws, ids[0], contact)
        await store.set_contact(ws, ids[1], contact)
        unread = await store.list_chats(ws, ChatFilter(unread=True), 10, None)
        assert [c.id for c in unread.items] == [ids[2], ids[0]]
        linked = await store.list_chats(ws, ChatFilter(contact_id=contact), 10, None)
        assert [c.id for c in linked.items] == [ids[1], ids[0]]
        both = await store.list_chats(ws, ChatFilter(unread=True, contact_id=contact), 1, None)
        assert [c.id for c in both.items] == [ids[0]]
        assert both.next is None
        await store.set_contact(ws, ids[1], None)
        linked = await store.list_chats(ws, ChatFilter(contact_id=contact), 10, None)
        assert [c.id for c in linked.items] == [ids[0]]
        chat = await store.get(ws, ids[1])
        assert chat is not None
        assert chat.contact_id is None

    async def test_a_linked_chat_keeps_its_place_in_the_contacts_list(
        self, store: ChatStore
    ) -> None:
        ws, contact = uuid4(), uuid4()
        old = (await store.append(ws, ref(1), message(at=T0))).chat_id
        new = (await store.append(ws, ref(2), message(at=T0 + timedelta(1)))).chat_id
        await store.set_contact(ws, old, contact)
        await store.set_contact(ws, new, contact)
        await store.append(ws, ref(1), message(at=T0 + timedelta(2)))
        linked = await store.list_chats(ws, ChatFilter(contact_id=contact), 10, None)
        assert [c.id for c in linked.items] == [old, new]

    async def test_a_person_s_link_or_unlink_is_never_undone_by_a_match(
        self, store: ChatStore
    ) -> None:
        ws, matched, chosen = uuid4(), uuid4(), uuid4()
        auto, unlinked, linked = [
            (await store.append(ws, ref(n), message())).chat_id for n in range(3)
        ]
        assert await store.set_contact(ws, auto, matched, automatic=True)
        assert not await store.set_contact(ws, auto, chosen, automatic=True)  # has one
        assert await store.set_contact(ws, unlinked, None)
        assert not await store.set_contact(ws, unlinked, matched, automatic=True)
        assert await store.set_contact(ws, linked, chosen)
        assert not await store.set_contact(ws, linked, matched, automatic=True)
        assert not await store.set_contact(ws, uuid4(), matched, automatic=True)  # no chat
        found = {c.id: c for c in (await store.list_chats(ws, ChatFilter(), 10, None)).items}
        assert (found[auto].contact_id, found[auto].contact_pinned) == (matched, False)
        assert (found[unlinked].contact_id, found[unlinked].contact_pinned) == (None, True)
        assert (found[linked].contact_id, found[linked].contact_pinned) == (chosen, True)
        mine = await store.list_chats(ws, ChatFilter(contact_id=matched), 10, None)
        assert [c.id for c in mine.items] == [auto]

    async def test_mark_read_and_assign(self, store: ChatStore) -> None:
        ws, member = uuid4(), uuid4()
        chat_id = (await store.append(ws, ref(), message())).chat_id
        await store.append(ws, ref(), message(at=T0 + timedelta(seconds=1)))
        await store.mark_read(ws, chat_id)
        await store.assign(ws, chat_id, member)
        chat = await store.get(ws, chat_id)
        assert chat is not None
        assert (chat.unread_count, chat.assignee_id) == (0, member)
        assert chat.message_count == 2
        await store.assign(ws, chat_id, None)
        chat = await store.get(ws, chat_id)
        assert chat is not None
        assert chat.assignee_id is None

    async def test_another_workspace_never_sees_a_chat(self, store: ChatStore) -> None:
        mine, theirs = uuid4(), uuid4()
        chat_id = (await store.append(mine, ref(), message())).chat_id
        assert await store.get(theirs, chat_id) is None
        assert (await store.list_chats(theirs, ChatFilter(), 10, None)).items == []
        assert (await store.list_messages(theirs, chat_id, 10, None)).items == []
        for change in (
            store.mark_read(theirs, chat_id),
            store.set_contact(theirs, chat_id, uuid4()),
            store.assign(theirs, chat_id, uuid4()),
        ):
            with pytest.raises(ChatNotFound):
                await change
        their_chat = (await store.append(theirs, ref(), message())).chat_id
        assert their_chat != chat_id  # the same phone on the same channel: their own chat
        chat = await store.get(mine, chat_id)
        assert chat is not None
        assert (chat.unread_count, chat.contact_id) == (1, None)


class TestInMemoryChatStore(ChatStoreContract):
    @pytest.fixture
    def store(self) -> ChatStore:
        return InMemoryChatStore()


class TestDynamoDbChatStore(ChatStoreContract):
    @pytest_asyncio.fixture
    async def store(self, dynamodb_endpoint: DynamoDbEndpoint) -> AsyncIterator[ChatStore]:
        table = f"crm-test-chats-{uuid.uuid4().hex[:12]}"
        await create_chats_table(table, dynamodb_endpoint)
        store = DynamoDbChatStore(table, dynamodb_endpoint)
        await store.open()
        yield store
        await store.close()


class TestDynamoDbErrors:
    """botocore's failures arrive as port errors; colliding transactions are retried."""

    async def test_a_missing_table_says_to_create_it(
        self, dynamodb_endpoint: DynamoDbEndpoint
    ) -> None:
        store = DynamoDbChatStore("crm-test-never-made", dynamodb_endpoint)
        await store.open()
        try:
            with pytest.raises(TableMissing, match="crm aws create-resources"):
                await store.get(uuid4(), UUID(int=1))
        finally:
            await store.close()

    async def test_an_unreachable_endpoint_is_service_unavailable(self) -> None:
        endpoint = DynamoDbEndpoint("us-east-1", f"http://127.0.0.1:{free_port()}")
        store = DynamoDbChatStore("crm-chats", endpoint)
        await store.open()
        try:
            with pytest.raises(ServiceUnavailable, match="DynamoDB append a message"):
                await store.append(uuid4(), ref(), message())
        finally:
            await store.close()

    async def test_creating_the_table_twice_is_harmless(
        self, dynamodb_endpoint: DynamoDbEndpoint
    ) -> None:
        table = f"crm-test-chats-{uuid.uuid4().hex[:12]}"
        first = await create_chats_table(table, dynamodb_endpoint)
        assert await create_chats_table(table, dynamodb_endpoint) == first

    async def test_a_transaction_conflict_is_retried_then_reported_as_unavailable(
        self, dynamodb_endpoint: DynamoDbEndpoint, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        table = f"crm-test-chats-{uuid.uuid4().hex[:12]}"
        await create_chats_table(table, dynamodb_endpoint)
        store = DynamoDbChatStore(table, dynamodb_endpoint)
        await store.open()
        client = store._db()
        real, calls = client.transact_write_items, []

        async def colliding(**request: Any) -> Any:
            calls.append(request)
            if len(calls) <= conflicts:
                reasons = [{"Code": "None"}, {"Code": "None"}, {"Code": "TransactionConflict"}]
                error = {"Code": "TransactionCanceledException", "Message": "conflict"}
                answer = {"Error": error, "CancellationReasons": reasons}
                raise ClientError(answer, "TransactWriteItems")
            return await real(**request)

        monkeypatch.setattr(client, "transact_write_items", colliding)
        try:
            conflicts = 3
            assert (await store.append(uuid4(), ref(), message())).stored
            assert len(calls) == 4
            conflicts, calls[:] = CONFLICT_ATTEMPTS, []
            with pytest.raises(ServiceUnavailable, match="contended"):
                await store.append(uuid4(), ref(), message())
        finally:
            await store.close()
