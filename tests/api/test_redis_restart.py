"""A Redis restart costs no request: every client retries a dead pooled connection once.

The test restarts a redis-server of its own (never the shared one)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.api.test_imports import finished, upload
from tests.support.api import running_api, settings_for_tests
from tests.support.servers import _redis_answers, free_port, stop

CSV = b"Email,First\nada@example.com,Ada\nbob@example.com,Bob\n"
LIMIT = 50


class OwnRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("This test restarts a Redis of its own: put redis-server on PATH.")
        self.binary, self.port = binary, free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.process = self._start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _start(self) -> subprocess.Popen[bytes]:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(  # noqa: S603
            [self.binary, *args], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while not _redis_answers("127.0.0.1", self.port):
            if process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"redis-server did not start: {self.log.read()[-2000:]!r}")
            time.sleep(0.02)
        return process

    def restart(self) -> None:
        stop(self.process)
        self.process = self._start()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    yield redis
    stop(redis.process)


async def test_imports_and_rate_limits_work_at_once_after_a_redis_restart(
    database_url: str, own_redis: OwnRedis
) -> None:
    settings = settings_for_tests(database_url, own_redis.url, rate_limit_requests=LIMIT)
    async with running_api(settings) as api:
        before = await api.key("Before")
        started = await upload(api.client, before, CSV, mapping={"Email": "emails"})
        assert started.status_code == 202, started.text
        assert (await finished(api.client, before, started.headers["location"]))["status"] == "done"

        await asyncio.to_thread(own_redis.restart)  # every pooled connection is dead now

        importer, limited = await api.key("Importer"), await api.key("Limited")
        started = await upload(api.client, importer, CSV, mapping={"Email": "emails"})
        assert started.status_code == 202, started.text
        assert started.headers["ratelimit-remaining"] == str(LIMIT - 1)
        progress = await api.client.get(started.headers["location"], headers=importer)
        assert progress.status_code == 200, progress.text
        assert progress.json()["status"] in ("queued", "running", "done")
        codes = []
        for _ in range(LIMIT + 1):
            r = await api.client.get("/v1/contacts", headers=limited)
            codes.append((r.status_code, r.headers.get("ratelimit-remaining")))
        expected = [(200, str(LIMIT - 1 - i)) for i in range(LIMIT)] + [(429, "0")]
        assert codes == expected
        assert (await finished(api.client, importer, started.headers["location"]))["status"] == (
            "done"
        )
        assert (await api.client.get("/readyz")).status_code == 200
