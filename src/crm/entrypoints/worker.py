"""`crm worker` (the relay and the consumers, in a process of their own), its dead letters
(`crm worker dlq list|redrive`), `crm aws create-resources` and `crm outbox purge`."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from crm import bootstrap
from crm.domain.errors import PortError
from crm.domain.use_cases.dead_letters import DeadLetter, DeadLetters
from crm.entrypoints.api import logs
from crm.settings import Settings

T = TypeVar("T")
log = logging.getLogger("crm.worker")

worker_app = typer.Typer(
    help="The relay and the consumers of domain events (SQS).", invoke_without_command=True
)
dlq_app = typer.Typer(help="The events' dead-letter queue.", no_args_is_help=True)
worker_app.add_typer(dlq_app, name="dlq")
aws_app = typer.Typer(help="AWS resources the service uses.", no_args_is_help=True)
outbox_app = typer.Typer(help="The transactional outbox.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `worker`, `aws` and `outbox` to the `crm` command."""
    app.add_typer(worker_app, name="worker")
    app.add_typer(aws_app, name="aws")
    app.add_typer(outbox_app, name="outbox")


@worker_app.callback()
def worker(ctx: typer.Context) -> None:
    """Run the relay and the consumers until SIGTERM or Ctrl-C (any number of processes)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _worker_settings()
    logs.configure(settings.log_level, json=settings.log_json)
    asyncio.run(run_worker(settings))


async def run_worker(settings: Settings) -> None:
    """Until SIGTERM or SIGINT: messages already received finish first (a grace period)."""
    container = bootstrap.build(settings)
    await container.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        delivery = container.events.delivery
        await delivery.start()
        log.info("worker started; handlers: %s", ", ".join(container.events.handlers.names))
        await delivery.until_stopped(stop)
    finally:
        await container.stop()
    log.info("worker stopped")


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines")] = False,
) -> None:
    """Show dead letters: event id, type, receive count, when first sent."""
    letters = _with_dead_letters(lambda dead: dead.list(limit))
    for letter in letters:
        typer.echo(json.dumps(_row(letter)) if as_json else _line(letter))
    if not as_json:
        typer.echo(f"{len(letters)} dead letter(s)", err=True)


@dlq_app.command("redrive")
def dlq_redrive(
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many (default: all)")
    ] = None,
) -> None:
    """Move dead letters back to the events queue to be handled again."""
    moved = _with_dead_letters(lambda dead: dead.redrive(limit))
    typer.echo(f"moved {moved} dead letter(s) back to the queue")


@aws_app.command("create-resources")
def aws_create_resources() -> None:
    """Create the events and inbound WhatsApp queues with their dead-letter queues, the chats
    table and the files bucket when CRM_S3_BUCKET is set (idempotent; settings applied)."""
    settings = Settings()
    if settings.sqs_events_queue is None:
        raise typer.BadParameter("Set CRM_SQS_EVENTS_QUEUE to the events queue's name.")
    made = _port_call(lambda: bootstrap.create_aws_resources(settings))
    for what, where in made:
        typer.echo(f"{what}: {where}")


@outbox_app.command("purge")
def outbox_purge() -> None:
    """Delete published events past CRM_OUTBOX_RETENTION_DAYS (with their timeline rows),
    processed-event records past CRM_PROCESSED_EVENT_RETENTION_DAYS and finished webhook
    deliveries past CRM_WEBHOOK_DELIVERY_RETENTION_DAYS. Run it daily."""
    settings = _database_settings()

    async def purge() -> tuple[int, int, int]:
        container = bootstrap.build(settings)
        await container.start()
        try:
            done = await container.events.purge.execute()
        finally:
            await container.stop()
        return done.events, done.processed, done.deliveries

    events, processed, deliveries = _port_call(purge)
    kept = settings.outbox_retention_days
    if kept is None:
        typer.echo("CRM_OUTBOX_RETENTION_DAYS is unset: every event is kept (the audit log).")
    else:
        typer.echo(f"purged {events} published event(s) older than {kept} days")
    typer.echo(f"purged {processed} processed-event record(s)")
    typer.echo(f"purged {deliveries} finished webhook delivery(ies)")


def _worker_settings() -> Settings:
    settings = _database_settings()
    if settings.sqs_events_queue is None:
        raise typer.BadParameter(
            "Set CRM_SQS_EVENTS_QUEUE: workers share an SQS queue (`crm dev` delivers in process)."
        )
    # This process runs the loops itself (with signal handling), not as container hooks.
    return settings.model_copy(update={"worker_in_process": False})


def _database_settings() -> Settings:
    settings = Settings()
    if settings.database_url is None:
        raise typer.BadParameter("Set CRM_DATABASE_URL (or use `crm dev`).")
    return settings


def _with_dead_letters(action: Callable[[DeadLetters], Coroutine[Any, Any, T]]) -> T:
    """Only the queue: no database needed to look at or move dead letters."""
    settings = Settings()
    if settings.sqs_events_queue is None:
        raise typer.BadParameter("Set CRM_SQS_EVENTS_QUEUE (the dead letters are in SQS).")

    async def main() -> T:
        queue, opens, closes = bootstrap.build_queue(settings)
        for hook in opens:
            await hook()
        try:
            return await action(DeadLetters(queue))
        finally:
            for hook in closes:
                await hook()

    return _port_call(main)


def _port_call(action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(action())
    except PortError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None


def _row(letter: DeadLetter) -> dict[str, object]:
    return {
        "message_id": letter.message_id,
        "event_id": None if letter.event_id is None else str(letter.event_id),
        "type": letter.event_type,
        "receive_count": letter.receive_count,
        "sent_at": None if letter.sent_at is None else letter.sent_at.isoformat(),
        "body": None if letter.event_id is not None else letter.raw,
    }


def _line(letter: DeadLetter) -> str:
    sent = "-" if letter.sent_at is None else letter.sent_at.isoformat(timespec="seconds")
    what = f"{letter.event_id} {letter.event_type}"
    if letter.event_id is None:
        what = f"(not an event) {letter.raw!r}"
    return f"{what}  receives={letter.receive_count}  sent={sent}"
