"""moto's server for bench/events_bench.py, in a process of its own, without its request log.

    python bench/moto_server.py PORT [--indexed]

moto 5.2's SQS scans every message of a queue several times per message it touches:
`SendMessage` computes all the queue's attributes (three scans counting visible, delayed and
in-flight messages) to read `ContentBasedDeduplication`, `ReceiveMessage` does it nine times
per message it returns (to read `MessageRetentionPeriod`); `DeleteMessage` scans the queue
twice per receipt handle and rebuilds the list; every visibility check builds a datetime (and
imports `datetime.UTC`) to read the clock. Cost per message grows with the queue's depth, so a
backlog makes it quadratic: 500 messages through it take 11 s, 2,000 take 114-132 s.

`--indexed` replaces exactly those spots, with the same results, so that a benchmark can see
past the emulator: the clock read with `time.time()` (once per scan for visible messages), the
three counts computed only for the `GetQueueAttributes` action (the only one that returns
them; elsewhere nothing reads them), and deletes finding the message by receipt handle in a
dictionary. Everything else (visibility, receive counts, the redrive to the dead-letter
queue, long polling) is moto's own code; the queue contract tests and test_worker_kill.py pass
against it. Not used by the tests: for measuring only.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import threading
import time
from typing import Any


def index_moto_sqs() -> None:
    """Patch moto's SQS models in this process (see the module's docstring)."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    models: Any = importlib.import_module("moto.sqs.models")
    responses: Any = importlib.import_module("moto.sqs.responses")

    def now_ms(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(models.unix_time(dt)) * 1000.0

    models.unix_time_millis = now_ms

    def visible_messages(queue: Any) -> list[Any]:
        now = time.time() * 1000.0
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    models.Queue.messages = property(visible_messages)

    counting = threading.local()
    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        count = getattr(models.Queue, name).fget

        def counted(queue: Any, count: Any = count) -> int:
            return int(count(queue)) if getattr(counting, "active", False) else 0

        setattr(models.Queue, name, property(counted))

    get_attributes = responses.SQSResponse.get_queue_attributes

    def get_queue_attributes(self: Any) -> Any:
        counting.active = True
        try:
            return get_attributes(self)
        finally:
            counting.active = False

    responses.SQSResponse.get_queue_attributes = get_queue_attributes

    by_receipt: dict[str, Any] = {}
    mark_received = models.Message.mark_received

    def mark_and_index(message: Any, visibility_timeout: int | None = None) -> None:
        mark_received(message, visibility_timeout)
        by_receipt[message.receipt_handle] = message

    models.Message.mark_received = mark_and_index

    def delete_message(queue: Any, receipt_handle: str) -> None:
        if receipt_handle in queue.deleted_messages:
            return
        message = by_receipt.get(receipt_handle)
        kept = list(queue._messages)
        try:
            kept.remove(message)  # by identity: Message defines no __eq__
        except ValueError:
            raise ReceiptHandleIsInvalid() from None
        assert message is not None
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)
        queue._messages = kept

    models.Queue.delete_message = delete_message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--indexed", action="store_true")
    args = parser.parse_args()
    if args.indexed:
        index_moto_sqs()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
