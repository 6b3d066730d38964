from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.support.api import Api, running_api, settings_for_tests


@pytest_asyncio.fixture
async def api(database_url: str, redis_url: str) -> AsyncIterator[Api]:
    """The real application on the test's own Postgres database and the real Redis."""
    async with running_api(settings_for_tests(database_url, redis_url)) as running:
        yield running
