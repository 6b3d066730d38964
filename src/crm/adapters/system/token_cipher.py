"""Tokens kept for a third party (WhatsApp access tokens), encrypted with Fernet (AES-128-CBC
and HMAC-SHA256, from `cryptography`).

The keys come from settings: the first encrypts, every one decrypts, so a key is rotated by
putting the new one first; the old one can go once every token was saved again under the
new (a channel's token is encrypted afresh whenever it is changed). Without configured keys,
one is derived from the service's secret key (HKDF-SHA256, its own label), so a development
run needs nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crm.ports.channels import TokenUnreadable

_LABEL = b"crm channel access tokens v1"


class FernetTokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        fernets = []
        for n, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                # Never the key itself in the message: it ends up in logs.
                raise ValueError(
                    f"CRM_CHANNEL_TOKEN_KEYS: key {n} is not a Fernet key (32 random bytes in "
                    "URL-safe base64: python -c 'import base64, os; "
                    "print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
                ) from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def derived_from(cls, secret: str) -> FernetTokenCipher:
        """The cipher of a key derived from the service's secret key."""
        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL)
        key = base64.urlsafe_b64encode(kdf.derive(secret.encode()))
        return cls([key.decode()])

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as e:
            raise TokenUnreadable("a stored token matches none of the configured keys") from e
