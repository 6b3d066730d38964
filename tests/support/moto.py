"""moto's AWS server (SQS now; S3 and DynamoDB later) for the tests: one per test session,
started on a free port like Redis. If it cannot start, the tests that need it fail loudly."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

import pytest

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
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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
