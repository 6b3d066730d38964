"""Parts of bench/events_bench.py: a fast webhook receiver, moto's server in a process of its
own, CPU accounting, and the moto-alone client (this file run as a script).

    python bench/events_support.py moto-client --endpoint URL --queue NAME --messages N

The moto-alone client does what the worker's queue traffic does, without the database or the
handlers, through the service's own SQS adapter (aioboto3): one sender sending rounds of 100
messages as 10 concurrent `SendMessageBatch` calls of 10 (the relay), and `--consumers` loops
receiving 10 at a time and deleting them in one `DeleteMessageBatch` (the consumers). It prints
the SQS message ids of every deleted batch on a line, for the parent to count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm.adapters.sqs.queue import SqsMessageQueue

HOST = "127.0.0.1"
REGION = "us-east-1"
AWS_ENV = {
    # moto takes any credentials; fixed ones keep a developer's real profile out of the bench.
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_moto(log: Path, indexed: bool) -> tuple[subprocess.Popen[bytes], str]:
    """moto's server (bench/moto_server.py) in a process of its own, on a free port."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).with_name("moto_server.py")), str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd + (["--indexed"] if indexed else []), stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto's server exited ({proc.returncode}); see {log}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return proc, f"http://{HOST}:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"moto's server did not answer on port {port} within 20 s")


def stop(proc: subprocess.Popen[bytes], grace: float = 15) -> int | None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


@dataclass
class Receiver:
    """An HTTP/1.1 keep-alive server on asyncio that answers every POST 204 and records the
    `CRM-Event-ID` of each; no parsing beyond the head and `Content-Length`."""

    port: int = 0
    requests: int = 0
    connections: int = 0
    ids: set[str] = field(default_factory=set)
    first_at: float | None = None
    last_new_at: float | None = None
    sample: tuple[dict[str, str], bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._serve, HOST, 0, backlog=512)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = _headers(head)
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                self._record(headers, body)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        now = time.monotonic()
        self.requests += 1
        self.first_at = self.first_at or now
        event_id = headers.get("crm-event-id")
        if event_id is not None and event_id not in self.ids:
            self.ids.add(event_id)
            self.last_new_at = now
        if self.sample is None:
            self.sample = (headers, body)


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = (line.partition(":") for line in lines if line)
    return {name.strip().lower(): value.strip() for name, _, value in pairs}


def body_of(i: int) -> str:
    """A message the size and shape of a relayed `contact.updated` event."""
    return json.dumps(
        {
            "format": 1,
            "id": str(uuid.uuid4()),
            "type": "contact.updated",
            "workspace_id": str(uuid.uuid4()),
            "aggregate_type": "contact",
            "aggregate_id": str(uuid.uuid4()),
            "actor_id": str(uuid.uuid4()),
            "occurred_at": "2026-12-05T12:00:00.000000+00:00",
            "payload": {"changes": {"job_title": {"old": "Analyst", "new": f"Engineer {i}"}}},
        }
    )


async def _send_all(queue: SqsMessageQueue, count: int) -> None:
    from crm.ports.message_queue import OutgoingMessage

    for start in range(0, count, 100):
        batch = [
            OutgoingMessage(str(uuid.uuid4()), body_of(i))
            for i in range(start, min(count, start + 100))
        ]
        await asyncio.gather(*(queue.send(batch[j : j + 10]) for j in range(0, len(batch), 10)))


async def _receive_loop(queue: SqsMessageQueue) -> None:
    while True:
        messages = await queue.receive(10, 20, 30)
        if messages:
            await queue.delete([m.receipt for m in messages])
            sys.stdout.write(" ".join(m.message_id for m in messages) + "\n")
            sys.stdout.flush()


async def moto_client(args: argparse.Namespace) -> None:
    from crm.adapters.sqs.client import SqsEndpoint
    from crm.adapters.sqs.queue import SqsMessageQueue

    queue = SqsMessageQueue(args.queue, SqsEndpoint(REGION, args.endpoint, read_timeout=30))
    await queue.open()
    try:
        loops = [_receive_loop(queue) for _ in range(args.consumers)]
        await asyncio.gather(_send_all(queue, args.messages), *loops)
    finally:
        await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["moto-client"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--consumers", type=int, default=2)
    asyncio.run(moto_client(parser.parse_args()))


if __name__ == "__main__":
    main()
