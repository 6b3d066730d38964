"""moto's AWS server (SQS, DynamoDB, S3) for the tests: one per test session, started
on a free port like Redis. If it cannot start, the tests that need it fail loudly."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from crm.adapters.dynamodb.client import DynamoDbEndpoint
from crm.adapters.sqs.client import SqsEndpoint

REGION = "us-east-1"
AWS_ENV = {
    # moto takes any credentials; fixed ones keep a developer's real profile out of the tests.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@functools.cache
def moto_endpoint_url() -> str:
    """The URL of a moto server started now (stopped at exit)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        raise RuntimeError("moto[server] is missing: run `uv sync` (a dev dependency).") from e
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its log line per request
    server = _serialized_dynamodb(ThreadedMotoServer)(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return f"http://{host}:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto's server did not answer on {host}:{port} within 10 s")


class _OneDynamoDbRequestAtATime:
    """Serializes moto's DynamoDB requests (other services still run concurrently).

    Why: moto 5.2.6's TransactWriteItems deep-copies every table it touches before it starts
    and, when the transaction is cancelled (a failed condition), puts those copies back. Any
    write another server thread made in between is lost, and the deep copy itself can fail
    while another thread changes the table. Checked without the lock: 20 concurrent appends
    to one chat (some cancelled because an older message must not move the chat's last
    activity) left 18 counted, or reported fresh messages as duplicates. AWS has no such race
    (a colliding transaction is cancelled with TransactionConflict, which the adapter
    retries), so the stand-in server, not the adapter, needs the lock."""

    def __init__(self, app: Any) -> None:
        self._app, self._lock = app, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))


def _serialized_dynamodb(server_class: Any) -> Any:
    """`ThreadedMotoServer` serving its application wrapped in `_OneDynamoDbRequestAtATime`:
    `_server_entry` is moto's own but for the wrapper."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Serialized(server_class):  # type: ignore[misc]
        def _server_entry(self) -> None:
            app = _OneDynamoDbRequestAtATime(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return Serialized


def use_test_credentials() -> None:
    for name, value in AWS_ENV.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


@pytest.fixture(scope="session")
def moto_url() -> str:
    use_test_credentials()
    return moto_endpoint_url()


@pytest.fixture(scope="session")
def sqs_endpoint(moto_url: str) -> SqsEndpoint:
    return SqsEndpoint(REGION, moto_url)


@pytest.fixture(scope="session")
def dynamodb_endpoint(moto_url: str) -> DynamoDbEndpoint:
    return DynamoDbEndpoint(REGION, moto_url)


@dataclass(frozen=True)
class EventQueues:
    name: str
    url: str
    dead_letter_url: str


async def new_event_queues(
    endpoint: SqsEndpoint, max_receives: int = 3, visibility_timeout: int = 30
) -> EventQueues:
    """A fresh events queue and its dead-letter queue, made by `crm aws create-resources`'s
    code."""
    from crm.adapters.sqs.resources import create_event_queues

    name = f"crm-test-{uuid.uuid4().hex[:12]}"
    url, dead = await create_event_queues(
        name, endpoint, max_receives=max_receives, visibility_timeout=visibility_timeout
    )
    return EventQueues(name, url, dead)
