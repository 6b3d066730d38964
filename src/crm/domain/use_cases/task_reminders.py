"""Task reminders: a push at a task's due time minus its assignee's lead time, sent once
however many workers run the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from crm.domain.errors import PortError
from crm.domain.model.push import DueReminder, NotificationKind, PushMessage, PushOutcome, Recipient
from crm.ports.push import PushSender
from crm.ports.system import Clock
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("crm.push")

LATE = timedelta(hours=1)
"""A task due longer ago than this gets no reminder (the worker was down, or the task was
entered late); a reminder that could not be sent is given up then."""
PURGE_EVERY = timedelta(hours=1)
KIND = NotificationKind.TASK_DUE


class SendTaskReminders:
    """One round: plan the reminders that came due (one short transaction; the key (task, due
    time, assignee) keeps concurrent planners from planning one twice), then claim up to
    `batch_size` unsent ones (rows another scheduler holds are skipped), send each to its
    assignee's devices, prune dead tokens and mark them sent, all in the claim's unit of work.
    A crash between the send and the commit sends again: at least once, never twice at once.
    A reminder no device could take stays unsent for the next round, until `LATE`."""

    name = "reminders"

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sender: PushSender,
        clock: Clock,
        batch_size: int = 50,
        poll_seconds: float = 10.0,
    ) -> None:
        self._uow, self._sender, self._clock = uow, sender, clock
        self._batch_size, self._poll_seconds = batch_size, poll_seconds
        self._purged_at: datetime | None = None

    async def execute(self) -> int:
        """One round: how many reminders it claimed."""
        now = self._clock.now()
        await self._plan(now)
        async with self._uow() as tx:
            claimed = await tx.reminders.claim(self._batch_size)
            if not claimed:
                return 0
            done = await self._send(tx, claimed, now)
            await tx.reminders.mark_sent(done, now)
            await tx.commit()
        return len(claimed)

    async def _plan(self, now: datetime) -> None:
        async with self._uow() as tx:
            await tx.reminders.plan(now, LATE)
            if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
                # Past LATE no reminder is planned for a due time, so its key guards nothing.
                await tx.reminders.purge(now - LATE - timedelta(days=1))
                self._purged_at = now
            await tx.commit()

    async def _send(
        self, tx: UnitOfWork, claimed: Sequence[DueReminder], now: datetime
    ) -> list[DueReminder]:
        """Send the reminders that still stand (the reads one at a time on the transaction's
        connection, the sends at once); which ones are done with (sent or given up)."""
        people: dict[UUID, Recipient] = {}
        for r in claimed:
            if r.current and r.user_id not in people:
                people[r.user_id] = await tx.notification_settings.recipient(r.user_id)
        wanted = [r for r in claimed if r.current and people[r.user_id].wants(KIND)]
        outcomes = await asyncio.gather(
            *(self._sender.send(people[r.user_id].tokens, _message(r, now)) for r in wanted),
            return_exceptions=True,
        )
        dead = set().union(*(o.dead for o in outcomes if isinstance(o, PushOutcome)))
        await tx.devices.remove_tokens(sorted(dead))
        retry = {
            (r.task_id, r.due_at, r.user_id)
            for r, o in zip(wanted, outcomes, strict=True)
            if _unreached(o) and r.due_at >= now - LATE
        }
        for o in outcomes:
            if isinstance(o, BaseException):
                log.warning("a task reminder could not be sent: %r", o)
        return [r for r in claimed if (r.task_id, r.due_at, r.user_id) not in retry]

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set: at once while a round was full, else after a pause."""
        while not stop.is_set():
            try:
                claimed = await self.execute()
            except PortError as e:
                log.warning("task reminders round failed, retrying: %r", e)
                claimed = 0
            except Exception:
                log.exception("task reminders round failed, retrying")
                claimed = 0
            if claimed < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._poll_seconds)


def _unreached(outcome: PushOutcome | BaseException) -> bool:
    if isinstance(outcome, BaseException):
        return True
    return bool(outcome.failed) and not outcome.delivered


def _message(r: DueReminder, now: datetime) -> PushMessage:
    return PushMessage.of(
        KIND,
        f"Task due {_when(r.due_at - now)}",
        r.title,
        r.task_id,
        workspace_id=r.workspace_id,
        task_id=r.task_id,
        due_at=r.due_at.isoformat(),
    )


def _when(left: timedelta) -> str:
    minutes = round(left.total_seconds() / 60)
    if minutes <= 0:
        return "now"
    if minutes < 120:
        return f"in {minutes} min"
    if minutes < 48 * 60:
        return f"in {round(minutes / 60)} h"
    return f"in {round(minutes / 1440)} days"
