"""pg_trgm's `word_similarity` in Python, so the memory search finds what Postgres finds.

Words are runs of letters and digits, lower-cased and padded ("  word "); the similarity is
the best `shared / (len(q) + len(extent) - shared)` over extents of the text's trigrams,
searched the way pg_trgm's `iterate_word_similarity` does (contrib/pg_trgm/trgm_op.c).
"""

from __future__ import annotations

import re

WORD_SIMILARITY_THRESHOLD = 0.6  # pg_trgm.word_similarity_threshold's default
_WORD = re.compile(r"[^\W_]+")


def trigrams(text: str) -> list[str]:
    """Every trigram of `text` in order, repeats kept."""
    result: list[str] = []
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        result += [padded[i : i + 3] for i in range(len(padded) - 2)]
    return result


def word_similarity(q: str, text: str) -> float:
    wanted = set(trigrams(q))
    ordered = trigrams(text)
    if not wanted or not ordered:
        return 0.0
    return _iterate(ordered, wanted)


def _sml(count: int, len1: int, len2: int) -> float:
    return count / (len1 + len2 - count)


def _iterate(ordered: list[str], wanted: set[str]) -> float:
    state = _Extent(ordered, wanted)
    for i, trigram in enumerate(ordered):
        state.step(i, trigram)
    return state.best


class _Extent:
    """The current extent of the text's trigrams (from `lower`) and the best similarity."""

    def __init__(self, ordered: list[str], wanted: set[str]) -> None:
        self.ordered, self.wanted, self.ulen1 = ordered, wanted, len(wanted)
        self.best, self.lower, self.count, self.ulen2 = 0.0, -1, 0, 0
        self.lastpos: dict[str, int] = {}

    def step(self, i: int, trigram: str) -> None:
        found = trigram in self.wanted
        if self.lower >= 0 or found:
            if self.lastpos.get(trigram, -1) < 0:
                self.ulen2 += 1
                self.count += found
            self.lastpos[trigram] = i
        if not found:
            return
        if self.lower == -1:
            self.lower, self.ulen2 = i, 1
        prev_lower = self.lower
        self.best = max(self.best, self._tighten(i))
        for tmp_lower in range(prev_lower, self.lower):
            at = self.ordered[tmp_lower]
            if self.lastpos.get(at) == tmp_lower:
                self.lastpos[at] = -1

    def _tighten(self, upper: int) -> float:
        """Move the extent's start right while that raises the similarity (pg_trgm's way)."""
        current = _sml(self.count, self.ulen1, self.ulen2)
        tmp_count, tmp_ulen2 = self.count, self.ulen2
        for tmp_lower in range(self.lower, upper + 1):
            candidate = _sml(tmp_count, self.ulen1, tmp_ulen2)
            if candidate > current:
                current, self.ulen2, self.lower, self.count = (
                    candidate, tmp_ulen2, tmp_lower, tmp_count,
                )  # fmt: skip
            at = self.ordered[tmp_lower]
            if self.lastpos.get(at) == tmp_lower:
                tmp_ulen2 -= 1
                tmp_count -= at in self.wanted
        return current


def fuzzy_match(q: str, text: str) -> bool:
    """What the Postgres search does with `q`: a substring, or a close word (`q <% text`)."""
    if q.lower() in text.lower():
        return True
    return round(word_similarity(q, text), 6) >= WORD_SIMILARITY_THRESHOLD
