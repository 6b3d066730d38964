"""The BlobStore port on S3 (aioboto3): one client per process, opened at start; links
and forms are presigned locally with SigV4 (no call to S3)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError

from crm.adapters.aws.client import AwsEndpoint
from crm.adapters.aws.errors import aws_errors, client_error_code
from crm.domain.errors import PortError
from crm.domain.model.blobs import (
    BlobInfo,
    UploadForm,
    check_content_type,
    check_key,
    check_lifetime,
    check_max_bytes,
    content_disposition,
)
from crm.ports.blobs import BucketMissing

MISSING_BUCKET = frozenset({"NoSuchBucket"})
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


def open_client(endpoint: AwsEndpoint) -> AbstractAsyncContextManager[Any]:
    """An S3 client (enter it to open) that presigns with SigV4: unless told, botocore
    presigns with SigV2 in us-east-1, which S3 refuses for buckets made since mid-2020."""
    import aioboto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=endpoint.read_timeout,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=endpoint.max_connections,
        signature_version="s3v4",
    )
    session = aioboto3.Session(region_name=endpoint.region)
    client: AbstractAsyncContextManager[Any] = session.client(
        "s3", endpoint_url=endpoint.endpoint_url, config=config
    )
    return client


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Translate what botocore raises while doing `what` (a few words for the message)."""

    def missing(_: str) -> BucketMissing:
        return BucketMissing(
            f"S3 {what}: the bucket does not exist; run `crm aws create-resources`."
        )

    with aws_errors("S3", what, MISSING_BUCKET, missing):
        yield


def object_name(workspace_id: UUID, key: str) -> str:
    """The object's S3 key: the workspace's prefix, then the key checked not to leave it."""
    return f"{workspace_id}/{check_key(key)}"


class S3BlobStore:
    """Uploads never pass through the service: the form's signed policy holds the exact key,
    content type and size range, which S3 enforces."""

    def __init__(self, bucket: str, endpoint: AwsEndpoint) -> None:
        self._bucket, self._endpoint = bucket, endpoint
        self._client: Any = None
        self._stack: AsyncExitStack | None = None

    async def open(self) -> None:
        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(open_client(self._endpoint))

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def put(self, workspace_id: UUID, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store `data` under `key`, replacing any file there."""
        name, content_type = object_name(workspace_id, key), check_content_type(content_type)
        with s3_errors("store a file"):
            await self._s3().put_object(
                Bucket=self._bucket, Key=name, Body=data, ContentType=content_type
            )
        return BlobInfo(key, len(data), content_type)

    async def upload_form(
        self,
        workspace_id: UUID,
        key: str,
        content_type: str,
        max_bytes: int,
        expires: timedelta,
    ) -> UploadForm:
        """A presigned POST whose policy names the key, the content type and 1..max_bytes."""
        name, seconds = object_name(workspace_id, key), check_lifetime(expires)
        content_type, max_bytes = check_content_type(content_type), check_max_bytes(max_bytes)
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
        with s3_errors("sign an upload form"):
            post = await self._s3().generate_presigned_post(
                self._bucket,
                name,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
                ExpiresIn=seconds,
            )
        fields = {str(k): str(v) for k, v in post["fields"].items()}
        return UploadForm(str(post["url"]), fields, expires_at, key, max_bytes, content_type)

    async def download_url(
        self, workspace_id: UUID, key: str, expires: timedelta, filename: str | None = None
    ) -> str:
        """A presigned GET; with `filename`, S3 answers it as an attachment of that name."""
        params = {"Bucket": self._bucket, "Key": object_name(workspace_id, key)}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with s3_errors("sign a download link"):
            url = await self._s3().generate_presigned_url(
                "get_object", Params=params, ExpiresIn=check_lifetime(expires)
            )
        return str(url)

    async def head(self, workspace_id: UUID, key: str) -> BlobInfo | None:
        """The object's size and content type, or None when it does not exist."""
        name = object_name(workspace_id, key)
        with s3_errors("look a file up"):
            answer = await _found(self._s3().head_object(Bucket=self._bucket, Key=name))
        if answer is None:
            await self._check_bucket()
            return None
        content_type = str(answer.get("ContentType") or "application/octet-stream")
        return BlobInfo(key, int(answer["ContentLength"]), content_type)

    async def delete(self, workspace_id: UUID, key: str) -> None:
        """Remove the object; S3 answers the same whether it existed or not."""
        name = object_name(workspace_id, key)
        with s3_errors("delete a file"):
            await self._s3().delete_object(Bucket=self._bucket, Key=name)

    async def _check_bucket(self) -> None:
        """A HEAD answers 404 alike for a missing object and a missing bucket: tell them apart."""
        with s3_errors("find the bucket"):
            found = await _found(self._s3().head_bucket(Bucket=self._bucket))
        if found is None:
            raise BucketMissing(
                f"S3 find the bucket {self._bucket}: it does not exist; "
                "run `crm aws create-resources`."
            )

    def _s3(self) -> Any:
        if self._client is None:
            raise PortError("The file store is not open (the container was not started).")
        return self._client


async def _found(call: Awaitable[Any]) -> Any:
    """The answer of a HEAD call, or None when it is a 404 (which has no body to say what)."""
    try:
        return await call
    except ClientError as e:
        if client_error_code(e) not in _NOT_FOUND:
            raise
        return None
