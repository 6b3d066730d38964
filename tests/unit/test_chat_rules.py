"""The chat model's rules: a message status only moves forward, chats are keyed by workspace,
channel and phone, cursors round-trip and refuse other lists'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.domain.errors import InvalidCursor, InvalidInput
from crm.domain.model.chats import (
    PREVIEW_LENGTH,
    ChatPosition,
    ChatRef,
    Direction,
    Message,
    MessageKind,
    MessagePosition,
    MessageStatus,
)
from crm.domain.model.task import DuePosition
from crm.domain.pagination import pack_cursor

S, D, R, F = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED)
FORWARD = {(S, D), (S, R), (S, F), (D, R), (D, F)}


@pytest.mark.parametrize("current", list(MessageStatus))
@pytest.mark.parametrize("new", list(MessageStatus))
def test_a_status_moves_only_forward_and_read_and_failed_are_final(
    current: MessageStatus, new: MessageStatus
) -> None:
    assert new.can_follow(current) == ((current, new) in FORWARD)
    assert (current in new.moves_from()) == new.can_follow(current)


def test_a_chat_is_one_per_workspace_channel_and_phone() -> None:
    ws = uuid4()
    chat = ChatRef("123", "+14155550100")
    assert chat.chat_id(ws) == ChatRef("123", "+14155550100").chat_id(ws)
    assert chat.chat_id(ws) != chat.chat_id(uuid4())
    assert chat.chat_id(ws) != ChatRef("124", "+14155550100").chat_id(ws)
    assert chat.chat_id(ws) != ChatRef("123", "+14155550101").chat_id(ws)


@pytest.mark.parametrize("phone", ["14155550100", "+0415555010", "+1 415 555 0100", "+1234", ""])
def test_a_customer_phone_must_be_e164(phone: str) -> None:
    with pytest.raises(InvalidInput):
        ChatRef("123", phone)


def message(text: str | None, kind: MessageKind = MessageKind.TEXT) -> Message:
    return Message("wamid.1", Direction.INBOUND, kind, datetime.now(UTC), text=text)


def test_a_preview_is_the_text_cut_short_or_the_kind() -> None:
    assert message("x" * 500).preview() == "x" * PREVIEW_LENGTH
    assert message(None, MessageKind.LOCATION).preview() == "[location]"


def test_a_message_time_is_kept_in_utc_and_needs_an_offset() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    stored = Message("wamid.1", Direction.OUTBOUND, MessageKind.TEXT, at)
    assert stored.sent_at == at
    assert stored.sent_at.tzinfo is UTC
    with pytest.raises(InvalidInput):
        Message("wamid.1", Direction.OUTBOUND, MessageKind.TEXT, at.replace(tzinfo=None))
    with pytest.raises(InvalidInput):
        Message("", Direction.OUTBOUND, MessageKind.TEXT, at)


def test_cursors_round_trip_and_refuse_other_lists() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    chat = ChatPosition(at, uuid4())
    assert ChatPosition.decode(chat.encode()) == chat
    message_at = MessagePosition(at, "wamid.HBgL==")
    assert MessagePosition.decode(message_at.encode()) == message_at
    for wrong in (
        lambda: ChatPosition.decode(message_at.encode()),
        lambda: MessagePosition.decode(chat.encode()),
        lambda: ChatPosition.decode(DuePosition(at, uuid4()).encode()),
        lambda: MessagePosition.decode("not a cursor"),
        lambda: MessagePosition.decode(pack_cursor("message", at.isoformat(), 5)),
        lambda: ChatPosition.decode(pack_cursor("chat", "2026-01-02T03:04:05", str(uuid4()))),
    ):
        with pytest.raises(InvalidCursor):
            wrong()
