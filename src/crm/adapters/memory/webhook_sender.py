"""A webhook sender that records what it was given and answers as told (use-case tests)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from crm.domain.model.webhook_deliveries import AttemptResult


@dataclass(frozen=True, slots=True)
class SentWebhook:
    url: str
    headers: dict[str, str]
    body: bytes


class RecordingWebhookSender:
    """Answers 200 unless results were queued with `answer` (in order, then 200 again)."""

    def __init__(self) -> None:
        self.sent: list[SentWebhook] = []
        self._answers: deque[AttemptResult] = deque()

    def answer(self, *results: AttemptResult) -> None:
        self._answers.extend(results)

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        self.sent.append(SentWebhook(url, dict(headers), body))
        return self._answers.popleft() if self._answers else AttemptResult(200, 1)

    async def close(self) -> None:
        """Nothing to release."""
