"""The BlobStore port on the local disk, for `crm dev`: files under `root/{workspace_id}/{key}`
(their content types in a twin tree under `root/.meta`), and links to the app's own
`/v1/files/{token}` routes whose token is signed with HMAC-SHA256 and expires."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from crm.domain.errors import InvalidInput, PortError
from crm.domain.model.blobs import (
    BlobInfo,
    FileLink,
    InvalidFileLink,
    LinkOp,
    UploadForm,
    UploadRefused,
    UploadTooLarge,
    check_content_type,
    check_key,
    check_lifetime,
    check_max_bytes,
)
from crm.ports.system import Clock

LINK_PATH = "/v1/files/"
_CHUNK = 64 * 1024
_CONTEXT = b"crm.file-link.v1\n"
"""Signed with every token, so a MAC made with the same secret for another use never fits."""
_DEFAULT_TYPE = "application/octet-stream"


class LocalBlobStore:
    """Writes land in `root/.tmp` and are renamed into place, so a reader never sees half
    a file; checked keys and a resolved-path check keep every file inside its workspace."""

    def __init__(self, root: Path, base_url: str, secret: bytes, clock: Clock) -> None:
        if len(secret) < 32:
            raise ValueError("The file-link secret needs at least 32 bytes.")
        self._root, self._base = root.resolve(), base_url.rstrip("/")
        self._secret, self._clock = secret, clock

    async def put(self, workspace_id: UUID, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store `data` under `key`, replacing any file there."""
        content_type = check_content_type(content_type)
        await asyncio.to_thread(self._put, workspace_id, check_key(key), data, content_type)
        return BlobInfo(key, len(data), content_type)

    async def upload_form(
        self,
        workspace_id: UUID,
        key: str,
        content_type: str,
        max_bytes: int,
        expires: timedelta,
    ) -> UploadForm:
        """A form for this app's POST /v1/files/{token}, with S3's field names."""
        content_type, max_bytes = check_content_type(content_type), check_max_bytes(max_bytes)
        link = FileLink(
            workspace_id,
            check_key(key),
            LinkOp.PUT,
            self._expiry(expires),
            content_type=content_type,
            max_bytes=max_bytes,
        )
        fields = {"key": f"{workspace_id}/{key}", "Content-Type": content_type}
        return UploadForm(self._url(link), fields, link.expires_at, key, max_bytes, content_type)

    async def download_url(
        self, workspace_id: UUID, key: str, expires: timedelta, filename: str | None = None
    ) -> str:
        """A link to this app's GET /v1/files/{token}."""
        expires_at = self._expiry(expires)
        link = FileLink(workspace_id, check_key(key), LinkOp.GET, expires_at, filename=filename)
        return self._url(link)

    async def head(self, workspace_id: UUID, key: str) -> BlobInfo | None:
        """The file's size and content type, or None when there is none."""
        return await asyncio.to_thread(self._head, workspace_id, check_key(key))

    async def delete(self, workspace_id: UUID, key: str) -> None:
        """Remove the file (a missing one is fine)."""
        await asyncio.to_thread(self._delete, workspace_id, check_key(key))

    def verify(self, token: str, op: LinkOp) -> FileLink:
        """What the token grants, or InvalidFileLink (forged, expired, the other op)."""
        link = self._decode(token)
        if link.op is not op:
            raise InvalidFileLink(f"This link is for the {link.op} of a file, not the {op}.")
        if self._clock.now() >= link.expires_at:
            raise InvalidFileLink("The link has expired; ask the API for a new one.")
        return link

    async def receive(
        self, link: FileLink, fields: Mapping[str, str], chunks: AsyncIterable[bytes]
    ) -> BlobInfo:
        """Stream the upload into a temporary file and rename it into place when whole."""
        content_type, max_bytes = _check_fields(link, fields)
        out = await asyncio.to_thread(self._temp_file)
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"The file is larger than {max_bytes} bytes.")
                await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(out.close)
            if size == 0:
                raise UploadRefused("The file is empty.")
            args = (Path(out.name), link.workspace_id, link.key, content_type)
            await asyncio.to_thread(self._commit, *args)
        except BaseException:
            _discard(out)
            raise
        return BlobInfo(link.key, size, content_type)

    async def read(
        self, workspace_id: UUID, key: str
    ) -> tuple[BlobInfo, AsyncIterator[bytes]] | None:
        """The opened file and its bytes, or None."""
        opened = await asyncio.to_thread(self._open, workspace_id, check_key(key))
        return None if opened is None else (opened[0], _chunks(opened[1]))

    def _expiry(self, expires: timedelta) -> datetime:
        seconds = self._clock.now().timestamp() + check_lifetime(expires)
        return datetime.fromtimestamp(math.ceil(seconds), UTC)

    def _url(self, link: FileLink) -> str:
        claims: dict[str, str | int] = {"w": str(link.workspace_id), "k": link.key}
        claims |= {"o": link.op.value, "e": int(link.expires_at.timestamp())}
        optional = {"t": link.content_type, "m": link.max_bytes, "f": link.filename}
        claims |= {name: value for name, value in optional.items() if value is not None}
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return f"{self._base}{LINK_PATH}{_b64(payload)}.{_b64(self._mac(payload))}"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + payload, hashlib.sha256).digest()

    def _decode(self, token: str) -> FileLink:
        try:
            body, mac = token.split(".")
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                raise ValueError("wrong signature")
            c: dict[str, Any] = json.loads(payload)
            expires_at = datetime.fromtimestamp(int(c["e"]), UTC)
            workspace_id, key, op = UUID(c["w"]), check_key(c["k"]), LinkOp(c["o"])
            return FileLink(workspace_id, key, op, expires_at, c.get("t"), c.get("m"), c.get("f"))
        except (ValueError, KeyError, TypeError, OverflowError, OSError, InvalidInput):
            raise InvalidFileLink("The link is not one this service signed.") from None

    def _data(self, workspace_id: UUID, key: str, tree: str | None = None) -> Path:
        base = self._root / tree / str(workspace_id) if tree else self._root / str(workspace_id)
        path = base / key
        if not path.resolve().is_relative_to(base.resolve()):
            raise PortError(f"Local files: {key!r} resolves outside its workspace's folder.")
        return path

    def _meta(self, workspace_id: UUID, key: str) -> Path:
        return self._data(workspace_id, key, ".meta")

    def _temp_file(self) -> IO[bytes]:
        folder = self._root / ".tmp"
        with _fs("make a temporary file"):
            folder.mkdir(parents=True, exist_ok=True)
            return tempfile.NamedTemporaryFile(dir=folder, delete=False)

    def _put(self, workspace_id: UUID, key: str, data: bytes, content_type: str) -> None:
        out = self._temp_file()
        try:
            with out:
                out.write(data)
            self._commit(Path(out.name), workspace_id, key, content_type)
        except BaseException:
            _discard(out)
            raise

    def _commit(self, temp: Path, workspace_id: UUID, key: str, content_type: str) -> None:
        """The content type first, then the file: a file that exists is whole and typed."""
        data, meta = self._data(workspace_id, key), self._meta(workspace_id, key)
        with _fs(f"store {key!r}"):
            typed = self._temp_file()
            with typed:
                typed.write(content_type.encode())
            meta.parent.mkdir(parents=True, exist_ok=True)
            os.replace(typed.name, meta)
            data.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, data)

    def _head(self, workspace_id: UUID, key: str) -> BlobInfo | None:
        opened = self._open(workspace_id, key)
        if opened is None:
            return None
        opened[1].close()
        return opened[0]

    def _open(self, workspace_id: UUID, key: str) -> tuple[BlobInfo, IO[bytes]] | None:
        try:
            file = self._data(workspace_id, key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        size = os.fstat(file.fileno()).st_size
        try:
            content_type = self._meta(workspace_id, key).read_text() or _DEFAULT_TYPE
        except OSError:
            content_type = _DEFAULT_TYPE
        return BlobInfo(key, size, content_type), file

    def _delete(self, workspace_id: UUID, key: str) -> None:
        with _fs(f"delete {key!r}"):
            for path in (self._data(workspace_id, key), self._meta(workspace_id, key)):
                with suppress(FileNotFoundError, NotADirectoryError):
                    path.unlink()


def _check_fields(link: FileLink, fields: Mapping[str, str]) -> tuple[str, int]:
    """S3's rules for a POST: the key and content type exactly as signed."""
    given = {name.lower(): value for name, value in fields.items()}
    if link.content_type is None or link.max_bytes is None:
        raise InvalidFileLink("The link is not an upload link.")
    if given.get("key") != f"{link.workspace_id}/{link.key}":
        raise UploadRefused("The form's key is not the one its link was signed for.")
    if given.get("content-type") != link.content_type:
        raise UploadRefused(f"The form's Content-Type must be {link.content_type}.")
    return link.content_type, link.max_bytes


async def _chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, _CHUNK):
            yield chunk
    finally:
        file.close()


def _discard(file: IO[bytes]) -> None:
    file.close()
    with suppress(FileNotFoundError):
        os.unlink(file.name)


@contextmanager
def _fs(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise PortError(f"Local files: cannot {what}: {e}") from e


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
