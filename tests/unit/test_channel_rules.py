"""The rules of a WhatsApp channel's fields, and the cipher its access token is kept under."""

from __future__ import annotations

import base64
import os

import pytest

from crm.adapters.system.token_cipher import FernetTokenCipher
from crm.domain.errors import InvalidInput
from crm.domain.model.channels import display_number, parse_channel
from crm.ports.channels import TokenUnreadable

TOKEN = "EAAGm0PX4ZCpsBAKZC2E0some0long0token0ABCD"


def key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 555-078-3881", "+15550783881"),
        ("+1 (555) 078.3881", "+15550783881"),
        ("15550783881", "+15550783881"),  # as Meta writes it
        ("+44 20 7946 0958", "+442079460958"),
        ("555-0100", None),  # a local number: no country code
        ("+0 555 078 3881", None),
        ("+1 555 078 3881 0000 00", None),  # longer than E.164 allows
        ("+1 555 CALL NOW", None),
        ("", None),
        (15550783881, None),
        ("+1" + " " * 100 + "5550783881", None),
    ],
)
def test_display_numbers_are_e164(raw: object, expected: str | None) -> None:
    assert display_number(raw) == expected


def test_connecting_needs_the_number_its_id_and_a_token() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_channel({}, creating=True)
    fields = sorted(e.field for e in refused.value.errors)
    assert fields == ["/access_token", "/display_phone_number", "/phone_number_id"]
    values = parse_channel(
        {"phone_number_id": "1065", "display_phone_number": "15550783881", "access_token": TOKEN},
        creating=True,
    )
    assert values == {
        "phone_number_id": "1065",
        "display_phone_number": "+15550783881",
        "access_token": TOKEN,
    }


def test_a_change_may_remove_the_name_only_and_never_moves_the_number() -> None:
    assert parse_channel({"name": None}, creating=False) == {"name": None}
    assert parse_channel({"name": "  Sales  "}, creating=False) == {"name": "Sales"}
    for change in (
        {"access_token": None},
        {"display_phone_number": None},
        {"phone_number_id": "1"},
    ):
        with pytest.raises(InvalidInput) as refused:
            parse_channel(change, creating=False)
        assert [e.field for e in refused.value.errors] == [f"/{next(iter(change))}"]


def test_a_token_round_trips_and_differs_each_time() -> None:
    cipher = FernetTokenCipher([key()])
    sealed = cipher.encrypt(TOKEN)
    assert TOKEN not in sealed
    assert sealed != cipher.encrypt(TOKEN)  # a fresh IV every time
    assert cipher.decrypt(sealed) == TOKEN


def test_keys_rotate_the_first_encrypts_every_one_decrypts() -> None:
    old, new = key(), key()
    sealed_before = FernetTokenCipher([old]).encrypt(TOKEN)
    rotated = FernetTokenCipher([new, old])
    assert rotated.decrypt(sealed_before) == TOKEN
    sealed_after = rotated.encrypt(TOKEN)
    assert FernetTokenCipher([new]).decrypt(sealed_after) == TOKEN
    with pytest.raises(TokenUnreadable):
        FernetTokenCipher([new]).decrypt(sealed_before)  # the old key dropped too early
    with pytest.raises(TokenUnreadable):
        rotated.decrypt(sealed_after[:-4] + "AAAA")  # tampered


def test_a_key_derived_from_the_secret_is_stable_and_its_own() -> None:
    one = FernetTokenCipher.derived_from("a" * 40)
    assert FernetTokenCipher.derived_from("a" * 40).decrypt(one.encrypt(TOKEN)) == TOKEN
    with pytest.raises(TokenUnreadable):
        FernetTokenCipher.derived_from("b" * 40).decrypt(one.encrypt(TOKEN))


def test_a_bad_key_is_named_by_position_never_shown() -> None:
    bad = "not-a-fernet-key-but-a-secret"
    with pytest.raises(ValueError, match="key 2 is not a Fernet key") as refused:
        FernetTokenCipher([key(), bad])
    assert bad not in str(refused.value)
