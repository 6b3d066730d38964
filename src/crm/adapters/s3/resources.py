"""Creating the files bucket: idempotent, run by an operator (`crm aws create-resources`),
never by the service while it runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from crm.adapters.aws.client import AwsEndpoint
from crm.adapters.aws.errors import client_error_code
from crm.adapters.s3.blobs import open_client, s3_errors

_ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
_PRIVATE = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _cors(origins: Sequence[str]) -> dict[str, Any]:
    """Browsers POST upload forms and GET download links straight to the bucket."""
    rule = {
        "AllowedMethods": ["GET", "HEAD", "POST"],
        "AllowedOrigins": list(origins),
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Content-Length", "Content-Type"],
        "MaxAgeSeconds": 3600,
    }
    return {"CORSRules": [rule]}


async def create_bucket(
    name: str, endpoint: AwsEndpoint, cors_origins: Sequence[str] = ("*",)
) -> str:
    """The bucket `name`, created when missing, then given (again, so a changed setting is
    applied on the next run) SSE-S3 encryption, blocked public access and the CORS rule for
    `cors_origins`. Its ARN."""
    location: dict[str, Any] = {}
    if endpoint.region != "us-east-1":  # the one region that refuses a LocationConstraint
        location = {"CreateBucketConfiguration": {"LocationConstraint": endpoint.region}}
    async with open_client(endpoint) as s3:
        with s3_errors(f"create the bucket {name}"):
            try:
                await s3.create_bucket(Bucket=name, **location)
            except ClientError as e:
                if client_error_code(e) != "BucketAlreadyOwnedByYou":
                    raise
        with s3_errors(f"encrypt the bucket {name}"):
            await s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration=_ENCRYPTION
            )
        with s3_errors(f"block public access to the bucket {name}"):
            await s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=_PRIVATE)
        with s3_errors(f"set the bucket {name}'s CORS rule"):
            await s3.put_bucket_cors(Bucket=name, CORSConfiguration=_cors(cors_origins))
    return f"arn:aws:s3:::{name}"
