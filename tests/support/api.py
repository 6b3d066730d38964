"""Build the real application for a test and talk to it in-process over ASGI."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from crm import bootstrap
from crm.adapters.memory.mailer import InMemoryMailer
from crm.adapters.memory.messaging import InMemoryMessagingProvider
from crm.domain.model.workspace import ApiKey, Workspace
from crm.domain.use_cases.create_workspace import CreateWorkspaceCommand
from crm.entrypoints.api.app import create_app
from crm.settings import Environment, Settings
from tests.support.people import PROJECT_ID, auth_emulator

TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"
WHATSAPP_APP_SECRET = "whatsapp-app-secret-for-tests"
FILES_DIR = Path(tempfile.gettempdir()) / f"crm-tests-{os.getpid()}"
WHATSAPP_VERIFY_TOKEN = "whatsapp-verify-token-for-tests"


def settings_for_tests(
    database_url: str | None, redis_url: str | None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": TEST_SECRET,
        "rate_limit_requests": 10_000,
        "auth_cache_ttl_seconds": 0,
        # Every in-process client comes from 127.0.0.1, and the count is shared through Redis
        # by every test process: only the tests of the throttle itself use a small limit.
        "auth_failure_limit": 1_000_000,
        "firebase_project_id": PROJECT_ID,
        "firebase_auth_emulator_host": auth_emulator().host,
        # The local file store (no S3 bucket set) keeps its files out of the checkout.
        "data_dir": FILES_DIR,
        "whatsapp_app_secret": WHATSAPP_APP_SECRET,
        "whatsapp_verify_token": WHATSAPP_VERIFY_TOKEN,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class KeyedWorkspace:
    """A new workspace and the admin API key it was made with."""

    workspace: Workspace
    api_key: ApiKey
    secret: str


@dataclass
class Api:
    app: FastAPI
    container: bootstrap.Container
    client: httpx.AsyncClient

    async def workspace(self, name: str = "Acme") -> KeyedWorkspace:
        created = await self.container.create_workspace.execute(CreateWorkspaceCommand(name))
        assert created.api_key is not None  # a key is asked for
        assert created.secret is not None
        return KeyedWorkspace(created.workspace, created.api_key, created.secret)

    async def key(self, name: str = "Acme") -> dict[str, str]:
        created = await self.workspace(name)
        return {"Authorization": f"Bearer {created.secret}"}

    @property
    def mailbox(self) -> InMemoryMailer:
        """The in-memory mailer every email of the test goes to."""
        mailer = self.container.mailer
        assert isinstance(mailer, InMemoryMailer)
        return mailer


@asynccontextmanager
async def running_api(settings: Settings, **build: Any) -> AsyncIterator[Api]:
    """The app on `settings`; replies to WhatsApp go to an in-memory provider unless the test
    passes its own `messaging` (tests/integration/test_whatsapp_graph.py: the Graph stub)."""
    build.setdefault("messaging", InMemoryMessagingProvider())
    container = bootstrap.build(settings, **build)
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://api.test")
    async with app.router.lifespan_context(app), client:
        yield Api(app, container, client)


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
