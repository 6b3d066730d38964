"""botocore's failures become port errors: nothing vendor-specific crosses a port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from crm.domain.errors import PortError, ServiceUnavailable

# Worth a retry later: AWS is busy or briefly unable (botocore already retried a few times).
TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "KmsThrottled",
        "RequestTimeout",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)
_CONFIGURATION = (NoCredentialsError, PartialCredentialsError, NoRegionError)


def client_error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_errors(
    service: str, what: str, missing: frozenset[str], on_missing: Callable[[str], PortError]
) -> Iterator[None]:
    """Translate what botocore raises while `service` does `what` (a few words for the
    message); an error whose code is in `missing` becomes `on_missing(message)`."""
    try:
        yield
    except ClientError as e:
        code = client_error_code(e)
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in missing:
            raise on_missing(f"{service} {what}: {code}") from e
        if code in TRANSIENT or status >= 500:
            raise ServiceUnavailable(f"{service} {what}: {code or status}") from e
        raise PortError(f"{service} {what}: {code}: {e}") from e
    except _CONFIGURATION as e:
        raise PortError(f"{service} {what}: {e}") from e
    except (BotoCoreError, OSError, TimeoutError) as e:
        raise ServiceUnavailable(f"{service} {what}: {e}") from e
