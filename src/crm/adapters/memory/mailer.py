"""Email kept in this process (tests, and the zero-config development run)."""

from __future__ import annotations

import logging
import uuid
from collections import deque

from crm.ports.mailer import EmailMessage

logger = logging.getLogger("crm.mail")


class InMemoryMailer:
    """Records every message it accepts; `sent[i]` was given the id `ids[i]`."""

    def __init__(self, *, log: bool = False) -> None:
        self.sent: list[EmailMessage] = []
        self.ids: list[str] = []
        self._log = log
        self._failures: deque[Exception] = deque()

    async def send(self, message: EmailMessage) -> str:
        """Record `message` and return its new id, unless a queued failure is due."""
        if self._failures:
            raise self._failures.popleft()
        message_id = uuid.uuid4().hex
        self.sent.append(message)
        self.ids.append(message_id)
        if self._log:
            # With no provider configured, the log is the only place a developer can read
            # the email (and follow the invitation link in it).
            logger.info(
                "Email %s to %s, subject %r:\n%s",
                message_id,
                message.to,
                message.subject,
                message.text,
            )
        return message_id

    def fail_next(self, error: Exception, times: int = 1) -> None:
        """Make the next `times` sends raise `error` instead of recording their message."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._failures.extend([error] * times)

    def by_id(self, message_id: str) -> EmailMessage:
        """The message that was given `message_id`; KeyError when there is none."""
        try:
            return self.sent[self.ids.index(message_id)]
        except ValueError:
            raise KeyError(message_id) from None

    async def close(self) -> None:
        """Nothing to release."""
