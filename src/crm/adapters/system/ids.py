"""UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then randomness, so ids sort by creation."""

from __future__ import annotations

import os
import time
from uuid import UUID


class Uuid7Generator:
    """Monotonic within one process: ids made in the same millisecond still increase. The
    random bits come from `os.urandom`, read 4 KiB at a time (a system call per id was a
    measurable part of a POST here); a forked child starts with none of its parent's."""

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
            self._seq = _random(2) & 0x7FF
        self._last_ms = ms
        rand_b = _random(8) & 0x3FFF_FFFF_FFFF_FFFF
        value = (ms << 80) | (0x7 << 76) | (self._seq << 64) | (0b10 << 62) | rand_b
        return UUID(int=value)


_ENTROPY = bytearray()


def _random(size: int) -> int:
    if len(_ENTROPY) < size:
        _ENTROPY[:] = os.urandom(4096)
    taken = int.from_bytes(_ENTROPY[-size:])
    del _ENTROPY[-size:]
    return taken


os.register_at_fork(after_in_child=_ENTROPY.clear)  # a child never repeats its parent's ids
