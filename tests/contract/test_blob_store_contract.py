"""One contract for the BlobStore port, run against S3 (moto's server, a fresh bucket per
test) and the local disk (its links served by the app's /v1/files routes, in process).

Uploads and downloads go over HTTP as a browser's would. moto checks no signature, policy or
expiry, so S3's requests pass through `S3Gate`, which enforces what S3 does with what we
signed (the POST policy's signature, expiry and conditions; a GET's expiry) before moto
stores or serves anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm.adapters.aws.client import AwsEndpoint
from crm.adapters.localfs.blobs import LocalBlobStore
from crm.adapters.memory.clock import ManualClock
from crm.adapters.s3.blobs import S3BlobStore, open_client
from crm.adapters.s3.resources import create_bucket
from crm.domain.errors import InvalidInput, PortError, ServiceUnavailable
from crm.domain.model.blobs import DOWNLOAD_LINK_LIFETIME, UPLOAD_LINK_LIFETIME
from crm.entrypoints.api.local_files import mount_local_files
from crm.ports.blobs import BlobStore, BucketMissing
from tests.support.moto import AWS_ENV, REGION
from tests.support.servers import free_port

PDF = "application/pdf"
BAD_KEYS = ["", "../x", "a/../../b", "/abs", "a//b", "./a", "a/", "a\x00b", "a\nb", "a\\b"]
BAD_KEYS += ["é" * 257, "/".join(["k" * 200] * 3)]


@dataclass
class World:
    """The store, a browser's HTTP client for its links, and `later(seconds)`, which moves
    the time its links are judged by."""

    store: BlobStore
    http: httpx.AsyncClient
    later: Callable[[float], None]

    async def post(self, form: Any, body: bytes, fields: dict[str, str] | None = None) -> int:
        files = {"file": ("upload.bin", body, "application/octet-stream")}
        answer = await self.http.post(form.url, data=fields or form.fields, files=files)
        return answer.status_code


class BlobStoreContract:
    """Each subclass provides `world` for its adapter."""

    async def test_put_head_and_delete(self, world: World) -> None:
        ws, store = uuid4(), world.store
        info = await store.put(ws, "media/in/1.jpg", b"\xff\xd8jpeg", "image/jpeg")
        assert (info.key, info.size, info.content_type) == ("media/in/1.jpg", 6, "image/jpeg")
        assert await store.head(ws, "media/in/1.jpg") == info
        await store.put(ws, "media/in/1.jpg", b"png!", "image/png")  # replaced whole
        replaced = await store.head(ws, "media/in/1.jpg")
        assert replaced is not None
        assert (replaced.size, replaced.content_type) == (4, "image/png")
        await store.delete(ws, "media/in/1.jpg")
        assert await store.head(ws, "media/in/1.jpg") is None
        await store.delete(ws, "media/in/1.jpg")  # again: harmless
        assert await store.head(ws, "never/made.txt") is None

    async def test_an_upload_form_takes_a_file_that_head_then_sees(self, world: World) -> None:
        ws, body = uuid4(), b"%PDF-1.7 " + bytes(range(256)) * 8
        form = await world.store.upload_form(ws, "docs/q1.pdf", PDF, 4096, UPLOAD_LINK_LIFETIME)
        assert (form.key, form.max_bytes, form.content_type) == ("docs/q1.pdf", 4096, PDF)
        soon = datetime.now(UTC) + UPLOAD_LINK_LIFETIME
        assert abs((form.expires_at - soon).total_seconds()) < 5
        assert await world.post(form, body) == 204
        info = await world.store.head(ws, "docs/q1.pdf")
        assert info is not None
        assert (info.size, info.content_type) == (len(body), PDF)
        url = await world.store.download_url(ws, "docs/q1.pdf", DOWNLOAD_LINK_LIFETIME)
        assert (await world.http.get(url)).content == body

    async def test_a_file_out_of_the_size_range_is_refused_and_not_kept(self, world: World) -> None:
        ws, store = uuid4(), world.store
        form = await store.upload_form(ws, "big.pdf", PDF, 1000, UPLOAD_LINK_LIFETIME)
        assert 400 <= await world.post(form, b"x" * 1001) < 500
        assert await store.head(ws, "big.pdf") is None
        assert 400 <= await world.post(form, b"") < 500
        assert await store.head(ws, "big.pdf") is None
        assert await world.post(form, b"x" * 1000) == 204
        info = await store.head(ws, "big.pdf")
        assert info is not None
        assert info.size == 1000

    async def test_another_content_type_is_refused(self, world: World) -> None:
        ws = uuid4()
        form = await world.store.upload_form(ws, "a.pdf", PDF, 1000, UPLOAD_LINK_LIFETIME)
        html = {**form.fields, "Content-Type": "text/html"}
        assert 400 <= await world.post(form, b"<script>", html) < 500
        assert await world.store.head(ws, "a.pdf") is None

    async def test_a_download_link_serves_the_file_until_it_expires(self, world: World) -> None:
        ws = uuid4()
        await world.store.put(ws, "q1.pdf", b"%PDF-1.7 report", PDF)
        url = await world.store.download_url(
            ws, "q1.pdf", timedelta(minutes=5), filename="Relatório Q1.pdf"
        )
        answer = await world.http.get(url)
        assert (answer.status_code, answer.content) == (200, b"%PDF-1.7 report")
        assert answer.headers["content-type"] == PDF
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''Relat%C3%B3rio%20Q1.pdf" in disposition
        world.later(290)
        assert (await world.http.get(url)).status_code == 200
        world.later(20)
        assert (await world.http.get(url)).status_code == 403

    async def test_an_upload_form_expires(self, world: World) -> None:
        ws = uuid4()
        form = await world.store.upload_form(ws, "late.pdf", PDF, 1000, timedelta(minutes=15))
        world.later(15 * 60 + 1)
        assert await world.post(form, b"%PDF") == 403
        assert await world.store.head(ws, "late.pdf") is None

    async def test_a_workspace_never_reaches_another_workspaces_file(self, world: World) -> None:
        mine, theirs, store = uuid4(), uuid4(), world.store
        await store.put(mine, "logo.png", b"mine", "image/png")
        await store.put(theirs, "logo.png", b"theirs", "image/png")
        url = await store.download_url(mine, "logo.png", DOWNLOAD_LINK_LIFETIME)
        assert (await world.http.get(url)).content == b"mine"
        form = await store.upload_form(mine, "logo.png", "image/png", 100, UPLOAD_LINK_LIFETIME)
        assert await world.post(form, b"mine, new") == 204
        aimed = {**form.fields, "key": form.fields["key"].replace(str(mine), str(theirs))}
        assert aimed["key"] == f"{theirs}/logo.png"
        assert 400 <= await world.post(form, b"overwritten", aimed) < 500
        await store.delete(mine, "logo.png")
        assert await store.head(mine, "logo.png") is None
        theirs_url = await store.download_url(theirs, "logo.png", DOWNLOAD_LINK_LIFETIME)
        assert (await world.http.get(theirs_url)).content == b"theirs"

    async def test_a_key_that_could_leave_the_workspace_is_refused(self, world: World) -> None:
        ws, store, life = uuid4(), world.store, DOWNLOAD_LINK_LIFETIME
        for key in BAD_KEYS:
            calls: list[Awaitable[object]] = [
                store.put(ws, key, b"x", "text/plain"),
                store.upload_form(ws, key, "text/plain", 10, life),
                store.download_url(ws, key, life),
                store.head(ws, key),
                store.delete(ws, key),
            ]
            for call in calls:
                with pytest.raises(InvalidInput, match="Invalid key"):
                    await call

    async def test_the_longest_key_and_unusual_names_work(self, world: World) -> None:
        ws, longest = uuid4(), "/".join(["k" * 255, "é" * 127, ""])[:-1]
        assert len(longest.encode()) == 510
        for key in (longest, "a b/ümlaut+(1).txt", ".hidden", "..a/b.."):
            await world.store.put(ws, key, b"ok", "text/plain; charset=utf-8")
            url = await world.store.download_url(ws, key, DOWNLOAD_LINK_LIFETIME)
            assert (await world.http.get(url)).content == b"ok"

    async def test_a_malformed_content_type_or_size_is_refused(self, world: World) -> None:
        ws, life = uuid4(), UPLOAD_LINK_LIFETIME
        for content_type in ("", "pdf", "text/html\r\nX-Evil: 1", "a/b; c"):
            with pytest.raises(InvalidInput):
                await world.store.put(ws, "a", b"x", content_type)
        for max_bytes in (0, -1, 6 * 1024**3):
            with pytest.raises(InvalidInput):
                await world.store.upload_form(ws, "a", PDF, max_bytes, life)
        for expires in (timedelta(0), timedelta(days=8)):
            with pytest.raises(InvalidInput):
                await world.store.download_url(ws, "a", expires)


class TestLocalBlobStore(BlobStoreContract):
    @pytest_asyncio.fixture
    async def world(self, tmp_path: Path) -> AsyncIterator[World]:
        clock = ManualClock(datetime.now(UTC))
        store = LocalBlobStore(tmp_path / "files", "http://testserver", b"s" * 32, clock)
        app = FastAPI()
        mount_local_files(app, store)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield World(store, http, lambda seconds: clock.advance(seconds=seconds))


class TestS3BlobStore(BlobStoreContract):
    @pytest_asyncio.fixture
    async def world(self, moto_url: str) -> AsyncIterator[World]:
        endpoint = AwsEndpoint(REGION, moto_url)
        bucket = f"crm-test-{uuid.uuid4().hex[:12]}"
        await create_bucket(bucket, endpoint)
        store = S3BlobStore(bucket, endpoint)
        await store.open()
        gate = S3Gate(moto_url)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(gate.app)) as http:
                yield World(store, http, gate.later)
        finally:
            await gate.close()
            await store.close()


class S3Gate:
    """What S3 enforces and moto does not, judged at a time the tests move: a POST's policy
    (its SigV4 signature, expiry and every condition, no field left unsigned) and a GET's
    expiry. What passes goes on to moto."""

    def __init__(self, moto_url: str) -> None:
        self._skew = 0.0
        self._moto = httpx.AsyncClient(base_url=moto_url)
        self.app = Starlette(
            routes=[
                Route("/{bucket}", self._post, methods=["POST"]),
                Route("/{bucket}/{name:path}", self._get, methods=["GET"]),
            ]
        )

    def later(self, seconds: float) -> None:
        self._skew += seconds

    async def close(self) -> None:
        await self._moto.aclose()

    def _now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._skew)

    async def _post(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        assert isinstance(upload, UploadFile)
        body = await upload.read()
        fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        refusal = policy_refusal(fields, len(body), request.path_params["bucket"], self._now())
        if refusal is not None:
            return Response(refusal, 403)
        sent = await self._moto.post(request.url.path, data=fields, files={"file": body})
        return Response(sent.content, sent.status_code)

    async def _get(self, request: Request) -> Response:
        query = request.query_params
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return Response("AccessDenied: not signed with SigV4", 403)
        signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if self._now() >= signed + timedelta(seconds=int(query["X-Amz-Expires"])):
            return Response("AccessDenied: Request has expired", 403)
        sent = await self._moto.get(f"{request.url.path}?{request.url.query}")
        kept = ("content-type", "content-disposition")
        headers = {name: sent.headers[name] for name in kept if name in sent.headers}
        return Response(sent.content, sent.status_code, headers=headers)


def policy_refusal(fields: dict[str, str], size: int, bucket: str, now: datetime) -> str | None:
    """Why S3 would refuse this POST, or None."""
    given = {name.lower(): value for name, value in fields.items()}
    encoded, signature = given.pop("policy", ""), given.pop("x-amz-signature", "")
    if not hmac.compare_digest(signature, _sigv4(given.get("x-amz-credential", ""), encoded)):
        return "SignatureDoesNotMatch"
    policy = json.loads(base64.b64decode(encoded))
    if now >= datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")):
        return "AccessDenied: Policy expired"
    given["bucket"] = bucket
    unsigned = {name for name in given if not name.startswith("x-ignore-")}
    for op, name, *args in map(_normalized, policy["conditions"]):
        unsigned.discard(name)
        if not _holds(op, given.get(name, ""), size, args):
            return f"AccessDenied: Policy Condition failed: {op} {name}"
    return f"AccessDenied: Extra input fields: {sorted(unsigned)}" if unsigned else None


def _sigv4(credential: str, string_to_sign: str) -> str:
    parts = credential.split("/")
    if len(parts) != 5:
        return "not SigV4"
    key = ("AWS4" + AWS_ENV["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in parts[1:]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _normalized(condition: Any) -> list[Any]:
    if isinstance(condition, dict):
        ((name, value),) = condition.items()
        return ["eq", name.lower(), value]
    op, *args = condition
    if op == "content-length-range":
        return [op, "", *args]
    return [op.lower(), args[0].removeprefix("$").lower(), args[1]]


def _holds(op: str, value: str, size: int, args: list[Any]) -> bool:
    if op == "content-length-range":
        return bool(args[0] <= size <= args[1])
    if op == "starts-with":
        return value.startswith(args[0])
    return bool(value == args[0])


class TestS3Specifics:
    """What only S3 has: the bucket, SigV4 links, and botocore's failures as port errors."""

    async def test_a_missing_bucket_says_to_create_it(self, moto_url: str) -> None:
        store = S3BlobStore("crm-test-never-made", AwsEndpoint(REGION, moto_url))
        await store.open()
        try:
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: store.put(uuid4(), "a.txt", b"x", "text/plain"),
                lambda: store.head(uuid4(), "a.txt"),
                lambda: store.delete(uuid4(), "a.txt"),
            ]
            for call in calls:
                with pytest.raises(BucketMissing, match="crm aws create-resources"):
                    await call()
        finally:
            await store.close()

    async def test_an_unreachable_endpoint_is_service_unavailable(self) -> None:
        store = S3BlobStore("crm-files", AwsEndpoint(REGION, f"http://127.0.0.1:{free_port()}"))
        await store.open()
        try:
            with pytest.raises(ServiceUnavailable, match="S3 look a file up"):
                await store.head(uuid4(), "a.txt")
        finally:
            await store.close()

    async def test_a_store_not_opened_says_so(self, moto_url: str) -> None:
        store = S3BlobStore("crm-files", AwsEndpoint(REGION, moto_url))
        with pytest.raises(PortError, match="not open"):
            await store.head(uuid4(), "a.txt")

    async def test_links_are_sigv4_and_downloads_last_five_minutes(self, moto_url: str) -> None:
        store = S3BlobStore("crm-files", AwsEndpoint(REGION, moto_url))
        await store.open()
        try:
            ws = uuid4()
            url = await store.download_url(ws, "a.pdf", DOWNLOAD_LINK_LIFETIME)
            form = await store.upload_form(ws, "a.pdf", PDF, 10, UPLOAD_LINK_LIFETIME)
        finally:
            await store.close()
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == ["300"]
        assert urlsplit(url).path == f"/crm-files/{ws}/a.pdf"
        assert form.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
        assert form.fields["key"] == f"{ws}/a.pdf"
        policy = json.loads(base64.b64decode(form.fields["policy"]))
        assert ["content-length-range", 1, 10] in policy["conditions"]
        assert {"Content-Type": PDF} in policy["conditions"]

    @pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
    async def test_creating_the_bucket_twice_is_harmless_and_locks_it_down(
        self, moto_url: str, region: str
    ) -> None:
        endpoint, bucket = AwsEndpoint(region, moto_url), f"crm-test-{uuid.uuid4().hex[:12]}"
        assert await create_bucket(bucket, endpoint) == f"arn:aws:s3:::{bucket}"
        assert await create_bucket(bucket, endpoint, ["https://app.example"]) == (
            f"arn:aws:s3:::{bucket}"
        )
        async with open_client(endpoint) as s3:
            encryption = await s3.get_bucket_encryption(Bucket=bucket)
            blocked = await s3.get_public_access_block(Bucket=bucket)
            cors = await s3.get_bucket_cors(Bucket=bucket)
            location = await s3.get_bucket_location(Bucket=bucket)
        (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert all(blocked["PublicAccessBlockConfiguration"].values())
        (cors_rule,) = cors["CORSRules"]
        assert cors_rule["AllowedOrigins"] == ["https://app.example"]
        assert {"GET", "POST"} <= set(cors_rule["AllowedMethods"])
        assert (location.get("LocationConstraint") or "us-east-1") == region


class TestLocalFileLinks:
    """What only the local store has: its tokens, the app's answers, files on disk."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(datetime.now(UTC))

    @pytest.fixture
    def store(self, tmp_path: Path, clock: ManualClock) -> LocalBlobStore:
        return LocalBlobStore(tmp_path / "files", "http://testserver", b"s" * 32, clock)

    @pytest_asyncio.fixture
    async def http(self, store: LocalBlobStore) -> AsyncIterator[httpx.AsyncClient]:
        app = FastAPI()
        mount_local_files(app, store)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http

    @staticmethod
    def problem(answer: httpx.Response, status: int, code: str) -> None:
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert (body["status"], body["code"], body["type"]) == (status, code, f"/problems/{code}")
        assert body["title"]
        assert body["detail"]

    async def test_a_forged_or_misused_link_is_refused(
        self, store: LocalBlobStore, http: httpx.AsyncClient
    ) -> None:
        ws = uuid4()
        await store.put(ws, "a.txt", b"secret", "text/plain")
        url = await store.download_url(ws, "a.txt", DOWNLOAD_LINK_LIFETIME)
        body, mac = url.rsplit("/", 1)[1].split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["w"] = str(uuid4())
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        self.problem(await http.get(f"/v1/files/{forged}.{mac}"), 403, "invalid_file_link")
        self.problem(await http.get("/v1/files/nonsense"), 403, "invalid_file_link")
        other = LocalBlobStore(Path("/nowhere"), "http://testserver", b"t" * 32, ManualClock())
        foreign = await other.download_url(ws, "a.txt", DOWNLOAD_LINK_LIFETIME)
        self.problem(await http.get(foreign), 403, "invalid_file_link")
        form = await store.upload_form(ws, "a.txt", "text/plain", 100, UPLOAD_LINK_LIFETIME)
        self.problem(await http.get(form.url), 403, "invalid_file_link")
        posted = await http.post(url, data=form.fields, files={"file": b"overwritten"})
        self.problem(posted, 403, "invalid_file_link")
        assert (await http.get(url)).content == b"secret"

    async def test_a_file_gone_is_404_and_a_served_file_cannot_run_as_a_page(
        self, store: LocalBlobStore, http: httpx.AsyncClient
    ) -> None:
        ws = uuid4()
        await store.put(ws, "page.html", b"<script>alert(1)</script>", "text/html")
        url = await store.download_url(ws, "page.html", DOWNLOAD_LINK_LIFETIME)
        served = await http.get(url)
        assert served.headers["content-type"] == "text/html"
        assert "sandbox" in served.headers["content-security-policy"]
        await store.delete(ws, "page.html")
        self.problem(await http.get(url), 404, "file_not_found")

    async def test_uploads_too_large_or_malformed_keep_nothing(
        self, store: LocalBlobStore, http: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        ws = uuid4()
        form = await store.upload_form(ws, "a.bin", "application/zip", 10_000, UPLOAD_LINK_LIFETIME)
        big = await http.post(form.url, data=form.fields, files={"file": b"x" * 200_000})
        self.problem(big, 413, "upload_too_large")  # refused on its Content-Length

        async def streamed() -> AsyncIterator[bytes]:
            yield b"--b\r\n"
            for name, value in form.fields.items():
                part = f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'
                yield f"{part}\r\n--b\r\n".encode()
            yield b'Content-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
            for _ in range(20):
                yield b"y" * 1000

        headers = {"Content-Type": "multipart/form-data; boundary=b"}
        chunked = await http.post(form.url, content=streamed(), headers=headers)
        self.problem(chunked, 413, "upload_too_large")  # refused while reading
        not_a_form = await http.post(form.url, content=b"{}", headers={"Content-Type": "a/json"})
        self.problem(not_a_form, 400, "malformed_upload")
        no_file = await http.post(form.url, data=form.fields, files={"other": b"x"})
        self.problem(no_file, 400, "malformed_upload")
        assert await store.head(ws, "a.bin") is None
        assert list((tmp_path / "files" / ".tmp").iterdir()) == []

    async def test_files_live_under_their_workspace_and_never_outside_the_root(
        self, store: LocalBlobStore, tmp_path: Path
    ) -> None:
        ws = uuid4()
        await store.put(ws, "in/a.txt", b"a", "text/plain")
        assert (tmp_path / "files" / str(ws) / "in" / "a.txt").read_bytes() == b"a"
        outside = tmp_path / "outside"
        outside.mkdir()
        (tmp_path / "files" / str(ws) / "out").symlink_to(outside)
        with pytest.raises(PortError, match="outside"):
            await store.put(ws, "out/b.txt", b"b", "text/plain")
        assert list(outside.iterdir()) == []

    def test_a_short_secret_is_refused(self, clock: ManualClock) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            LocalBlobStore(Path("/x"), "http://x", b"short", clock)
