"""A handler the tests register through CRM_WORKER_HANDLERS
(`tests.support.recording_handler:register`): it appends each event's id to the file named by
CRM_TEST_EVENTS_FILE, one line per call, so a test sees every time it ran."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from crm.domain.model.delivery import PublishedEvent
from crm.domain.use_cases.event_handlers import HandlerRegistry

NAME = "test-recorder"


class FileRecorder:
    name = NAME

    def __init__(self, path: Path, delay: float) -> None:
        self.path, self.delay = path, delay

    async def handle(self, event: PublishedEvent) -> None:
        await asyncio.sleep(self.delay)  # some work, so a kill lands mid-run
        await asyncio.to_thread(_append, self.path, f"{event.id}\n")


def _append(path: Path, line: str) -> None:
    with path.open("a") as out:  # one short append per call: lines never interleave
        out.write(line)


def register(registry: HandlerRegistry) -> None:
    path = Path(os.environ["CRM_TEST_EVENTS_FILE"])
    delay = float(os.environ.get("CRM_TEST_HANDLER_DELAY", "0"))
    registry.subscribe("*", FileRecorder(path, delay))


def recorded(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
