"""UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then randomness, so ids sort by creation."""

from __future__ import annotations

import os
import time
from uuid import UUID


class Uuid7Generator:
    """Monotonic within one process: ids made in the same millisecond still increase."""

    def __init__(self) -> None:
        self._last_ms = 0
        self._seq = 0

    def new_id(self) -> UUID:
        ms = time.time_ns() // 1_000_000
        if ms <= self._last_ms:
            ms = self._last_ms
            self._seq += 1
            if self._seq > 0xFFF:
                ms += 1
                self._seq = 0
        else:
            self._seq = int.from_bytes(os.urandom(2)) & 0x7FF
        self._last_ms = ms
        rand_b = int.from_bytes(os.urandom(8)) & 0x3FFF_FFFF_FFFF_FFFF
        value = (ms << 80) | (0x7 << 76) | (self._seq << 64) | (0b10 << 62) | rand_b
        return UUID(int=value)
