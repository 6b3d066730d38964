"""Attachments over HTTP on real PostgreSQL and Redis: start, upload straight to the file
store with the form the API signs, confirm, list, download with a link that lives 5 minutes;
uploads the store refuses (too large, another type) leave nothing to confirm; and another
workspace gets 404 on every route for A's ids, never a form or a link for A's files.

The local store's links are served by their own app at http://files.test (as `crm dev`
serves them); one journey runs on S3 (moto's server, a fresh bucket).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from crm import bootstrap
from crm.adapters.aws.client import AwsEndpoint
from crm.adapters.localfs.blobs import LocalBlobStore
from crm.adapters.memory.clock import ManualClock
from crm.adapters.s3.blobs import S3BlobStore
from crm.adapters.s3.resources import create_bucket
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.model.blobs import DEFAULT_MAX_UPLOAD_BYTES
from crm.domain.use_cases.attachment_access import RecordReaders
from crm.domain.use_cases.attachments import AttachmentUseCases
from crm.entrypoints.api.app import create_app
from crm.entrypoints.api.local_files import mount_local_files
from crm.ports.blobs import BlobStore
from tests.api.test_http_problems import assert_problem
from tests.support.api import Api, settings_for_tests
from tests.support.moto import REGION
from tests.support.people import join, owner_of

PDF = "application/pdf"
BODY = b"%PDF-1.7 quarterly report " + bytes(range(256)) * 4
RECORDS = {"contacts": {"first_name": "Ada"}, "companies": {"name": "Acme"}}
RECORDS |= {"deals": {"name": "Big one"}}


@dataclass
class World:
    api: Api
    files: httpx.AsyncClient
    """A browser's client for the store's links (the form's URL, the download link)."""
    store_clock: ManualClock | None
    """The time the local store judges its links by."""

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    async def upload(self, form: dict[str, Any], body: bytes, **fields: str) -> httpx.Response:
        files = {"file": ("upload.bin", body, "application/octet-stream")}
        return await self.files.post(form["url"], data=form["fields"] | fields, files=files)


ApiOn = Callable[[BlobStore], AbstractAsyncContextManager[Api]]


@pytest.fixture
def api_with(database_url: str, redis_url: str) -> ApiOn:
    """Runs the real app with its attachments on `store`, wired as bootstrap will."""

    @asynccontextmanager
    async def running(store: BlobStore) -> AsyncIterator[Api]:
        settings = settings_for_tests(database_url, redis_url)
        storage = bootstrap.postgres_storage(database_url, 4, bootstrap.database_timeouts(settings))
        container = bootstrap.build(settings, storage=storage)
        s = storage
        records = RecordReaders(s.contacts, s.companies, s.deals, s.notes)
        uses = AttachmentUseCases.build(s.uow, container.clock, Uuid7Generator(), store, records)
        container.attachments = uses  # the store under the test's clock, before routes bind
        app = create_app(container)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://api.test")
        async with app.router.lifespan_context(app), client:
            yield Api(app, container, client)

    return running


@pytest_asyncio.fixture
async def world(api_with: ApiOn, tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(datetime.now(UTC))
    store = LocalBlobStore(tmp_path / "files", "http://files.test", b"s" * 32, clock)
    files_app = FastAPI()
    mount_local_files(files_app, store)
    transport = httpx.ASGITransport(files_app)
    async with api_with(store) as api, httpx.AsyncClient(transport=transport) as files:
        yield World(api, files, clock)


def file_problem(answer: httpx.Response, status: int, code: str) -> None:
    """A problem from the store's own links (their app has no request ids)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


async def record(world: World, auth: dict[str, str], kind: str) -> str:
    made = await world.client.post(f"/v1/{kind}", json=RECORDS[kind], headers=auth)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def note_on(world: World, auth: dict[str, str], contact_id: str) -> str:
    url = f"/v1/contacts/{contact_id}/notes"
    made = await world.client.post(url, json={"text": "See the quote"}, headers=auth)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def start(
    world: World, auth: dict[str, str], path: str, **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    wanted = {"filename": "Relatório Q1.pdf", "content_type": PDF} | body
    made = await world.client.post(f"{path}/attachments", json=wanted, headers=auth)
    assert made.status_code == 201, made.text
    started = made.json()
    assert made.headers["location"] == f"/v1/attachments/{started['attachment']['id']}"
    return started["attachment"], started["upload"]


async def journey(world: World, path: str, auth: dict[str, str]) -> dict[str, Any]:
    """Start, upload, confirm, list, download: the ready attachment."""
    attachment, form = await start(world, auth, path)
    assert (attachment["status"], attachment["size"], attachment["version"]) == ("pending", None, 1)
    assert attachment["max_bytes"] == DEFAULT_MAX_UPLOAD_BYTES
    listed = await world.client.get(f"{path}/attachments", headers=auth)
    assert listed.json() == {"data": [], "next_cursor": None}  # pending ones are not listed

    uploaded = await world.upload(form, BODY)
    assert uploaded.status_code == 204, uploaded.text
    one = f"/v1/attachments/{attachment['id']}"
    confirmed = await world.client.post(f"{one}/confirm", headers=auth)
    assert confirmed.status_code == 200, confirmed.text
    ready = confirmed.json()
    assert (ready["status"], ready["size"], ready["version"]) == ("ready", len(BODY), 2)
    assert ready["confirmed_at"] is not None
    again = await world.client.post(f"{one}/confirm", headers=auth)
    assert again.json() == ready  # confirming twice changes nothing
    assert (await world.client.get(one, headers=auth)).json() == ready

    listed = await world.client.get(f"{path}/attachments", headers=auth)
    assert listed.json() == {"data": [ready], "next_cursor": None}
    link = await world.client.get(f"{one}/download", headers=auth)
    assert link.status_code == 200, link.text
    fetched = await world.files.get(link.json()["url"])
    assert (fetched.status_code, fetched.content) == (200, BODY)
    assert fetched.headers["content-type"] == PDF
    assert "filename*=UTF-8''Relat%C3%B3rio%20Q1.pdf" in fetched.headers["content-disposition"]
    return dict(ready)


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals", "notes"])
async def test_the_journey_on_every_kind_of_record(world: World, kind: str) -> None:
    auth = await world.api.key()
    if kind == "notes":
        path = f"/v1/notes/{await note_on(world, auth, await record(world, auth, 'contacts'))}"
    else:
        path = f"/v1/{kind}/{await record(world, auth, kind)}"
    ready = await journey(world, path, auth)
    assert ready["record_type"] == kind.removesuffix("s").replace("companie", "company")

    one = f"/v1/attachments/{ready['id']}"
    stale = await world.client.delete(one, headers={**auth, "If-Match": '"1"'})
    assert_problem(stale, 412, "version_conflict")
    link = (await world.client.get(f"{one}/download", headers=auth)).json()["url"]
    assert (await world.client.delete(one, headers=auth)).status_code == 204
    assert_problem(await world.client.get(one, headers=auth), 404, "attachment_not_found")
    file_problem(await world.files.get(link), 404, "file_not_found")  # the file went too
    listed = await world.client.get(f"{path}/attachments", headers=auth)
    assert listed.json()["data"] == []


async def test_uploads_the_store_refuses_leave_nothing_to_confirm(world: World) -> None:
    auth = await world.api.key()
    path = f"/v1/contacts/{await record(world, auth, 'contacts')}"

    big, form = await start(world, auth, path)  # the default limit: 15 MiB
    too_large = await world.upload(form, b"x" * (DEFAULT_MAX_UPLOAD_BYTES + 1))
    assert too_large.status_code == 413
    confirm = await world.client.post(f"/v1/attachments/{big['id']}/confirm", headers=auth)
    assert_problem(confirm, 409, "upload_missing")

    small, form = await start(world, auth, path, max_bytes=100)
    assert small["max_bytes"] == 100
    assert (await world.upload(form, b"x" * 101)).status_code == 413
    assert (await world.upload(form, b"")).status_code == 403  # an empty file neither
    html = await world.upload(form, b"<script>", **{"Content-Type": "text/html"})
    assert html.status_code == 403
    one = f"/v1/attachments/{small['id']}"
    assert_problem(await world.client.post(f"{one}/confirm", headers=auth), 409, "upload_missing")
    assert_problem(
        await world.client.get(f"{one}/download", headers=auth), 409, "attachment_not_ready"
    )
    assert (await world.client.get(one, headers=auth)).json()["status"] == "pending"

    assert (await world.upload(form, b"x" * 100)).status_code == 204  # the form still works
    confirmed = await world.client.post(f"{one}/confirm", headers=auth)
    assert (confirmed.status_code, confirmed.json()["size"]) == (200, 100)


async def test_what_cannot_be_started(world: World) -> None:
    auth = await world.api.key()
    path = f"/v1/contacts/{await record(world, auth, 'contacts')}/attachments"
    refused: dict[str, list[dict[str, Any]]] = {
        "filename": [{"filename": "../etc/passwd", "content_type": PDF}],
        "content_type": [{"filename": "a.pdf", "content_type": "pdf"}],
        "max_bytes": [{"filename": "a.pdf", "content_type": PDF, "max_bytes": 16 * 1024**2}],
    }
    refused["filename"] += [{"filename": "a\nb.pdf", "content_type": PDF}]
    refused["filename"] += [{"filename": "  ", "content_type": PDF}]
    for field, bodies in refused.items():
        for body in bodies:
            answer = await world.client.post(path, json=body, headers=auth)
            problem = assert_problem(answer, 422, "validation_failed")
            assert problem["errors"][0]["field"] == f"/{field}", (body, problem)
    nowhere = f"/v1/deals/{uuid.uuid4()}/attachments"
    answer = await world.client.post(
        nowhere, json={"filename": "a", "content_type": PDF}, headers=auth
    )
    assert_problem(answer, 404, "deal_not_found")


async def test_a_download_link_lives_five_minutes(world: World) -> None:
    auth = await world.api.key()
    path = f"/v1/companies/{await record(world, auth, 'companies')}"
    ready = await journey(world, path, auth)
    asked_at = datetime.now(UTC)
    link = (await world.client.get(f"/v1/attachments/{ready['id']}/download", headers=auth)).json()
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert 295 <= (expires_at - asked_at).total_seconds() <= 301
    assert world.store_clock is not None
    world.store_clock.advance(seconds=290)
    assert (await world.files.get(link["url"])).status_code == 200
    world.store_clock.advance(seconds=11)
    file_problem(await world.files.get(link["url"]), 403, "invalid_file_link")


async def test_another_workspace_gets_404_everywhere_and_no_url(world: World) -> None:
    a, b = await world.api.key("A"), await world.api.key("B")
    contact = await record(world, a, "contacts")
    ids = {
        "contacts": contact,
        "companies": await record(world, a, "companies"),
        "deals": await record(world, a, "deals"),
        "notes": await note_on(world, a, contact),
    }
    ready = await journey(world, f"/v1/contacts/{contact}", a)
    pending, _ = await start(world, a, f"/v1/deals/{ids['deals']}")
    missing = {"contacts": "contact", "companies": "company", "deals": "deal", "notes": "note"}
    body = {"filename": "mine.pdf", "content_type": PDF}
    for kind, rid in ids.items():
        code = f"{missing[kind]}_not_found"
        url = f"/v1/{kind}/{rid}/attachments"
        assert_problem(await world.client.post(url, json=body, headers=b), 404, code)
        assert_problem(await world.client.get(url, headers=b), 404, code)

    calls = [("GET", ""), ("GET", "/download"), ("POST", "/confirm"), ("DELETE", "")]
    for attachment_id in (ready["id"], pending["id"], str(uuid.uuid4())):
        for method, suffix in calls:
            url = f"/v1/attachments/{attachment_id}{suffix}"
            answer = await world.client.request(method, url, headers=b)
            problem = assert_problem(answer, 404, "attachment_not_found")
            assert attachment_id in problem["detail"]
            assert '"url"' not in answer.text
            assert "files.test" not in answer.text

    # A's attachments are untouched by B's attempts.
    one = f"/v1/attachments/{ready['id']}"
    assert (await world.client.get(one, headers=a)).json() == ready
    link = (await world.client.get(f"{one}/download", headers=a)).json()["url"]
    assert (await world.files.get(link)).content == BODY


async def test_members_delete_only_what_they_attached(world: World) -> None:
    owner, _ = await owner_of(world.client)
    member, _ = await join(world.client, owner, world.api.mailbox)
    path = f"/v1/contacts/{await record(world, owner, 'contacts')}"
    theirs, _ = await start(world, owner, path)
    mine, _ = await start(world, member, path)
    denied = await world.client.delete(f"/v1/attachments/{theirs['id']}", headers=member)
    assert_problem(denied, 403, "role_forbidden")
    assert (
        await world.client.delete(f"/v1/attachments/{mine['id']}", headers=member)
    ).status_code == 204
    assert (
        await world.client.delete(f"/v1/attachments/{theirs['id']}", headers=owner)
    ).status_code == 204


@pytest_asyncio.fixture
async def s3_world(api_with: ApiOn, moto_url: str) -> AsyncIterator[World]:
    endpoint = AwsEndpoint(REGION, moto_url)
    bucket = f"crm-test-{uuid.uuid4().hex[:12]}"
    await create_bucket(bucket, endpoint)
    store = S3BlobStore(bucket, endpoint)
    await store.open()
    try:
        async with api_with(store) as api, httpx.AsyncClient() as files:
            yield World(api, files, None)
    finally:
        await store.close()


async def test_the_journey_on_s3(s3_world: World) -> None:
    made = await s3_world.api.workspace()
    auth = {"Authorization": f"Bearer {made.secret}"}
    path = f"/v1/deals/{await record(s3_world, auth, 'deals')}"
    ready = await journey(s3_world, path, auth)
    link = await s3_world.client.get(f"/v1/attachments/{ready['id']}/download", headers=auth)
    url = urlsplit(link.json()["url"])
    assert parse_qs(url.query)["X-Amz-Expires"] == ["300"]
    key = f"{made.workspace.id}/attachments/{ready['id']}"
    assert url.path.endswith(f"/{key}")  # under the workspace's prefix
