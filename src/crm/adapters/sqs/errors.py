"""botocore's failures become port errors: nothing vendor-specific crosses the port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from crm.domain.errors import PortError, ServiceUnavailable
from crm.ports.message_queue import QueueMissing

MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
# Worth a retry later: AWS is busy or briefly unable (botocore already retried a few times).
TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "RequestTimeout",
    }
)
_CONFIGURATION = (NoCredentialsError, PartialCredentialsError, NoRegionError)


def client_error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


@contextmanager
def sqs_errors(what: str) -> Iterator[None]:
    """Translate what botocore raises while doing `what` (a few words for the message)."""
    try:
        yield
    except ClientError as e:
        code = client_error_code(e)
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in MISSING_QUEUE:
            raise QueueMissing(
                f"SQS {what}: the queue does not exist; run `crm aws create-resources`."
            ) from e
        if code in TRANSIENT or status >= 500:
            raise ServiceUnavailable(f"SQS {what}: {code or status}") from e
        raise PortError(f"SQS {what}: {code}: {e}") from e
    except _CONFIGURATION as e:
        raise PortError(f"SQS {what}: {e}") from e
    except (BotoCoreError, OSError, TimeoutError) as e:
        raise ServiceUnavailable(f"SQS {what}: {e}") from e
