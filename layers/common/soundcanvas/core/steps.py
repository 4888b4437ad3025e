"""What every workflow step Lambda shares: AWS errors worth retrying become `TransientError`,
the one error name the workflows' Retry blocks match (with Lambda's own service errors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from pynamodb.exceptions import PynamoDBException

from soundcanvas.core.errors import TransientError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "TransactionInProgressException",
    }
)


@contextmanager
def transient_aws_errors() -> Iterator[None]:
    """Re-raise throttling, 5xx and connection failures as TransientError, which the workflow retries."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in TRANSIENT_CODES:
            raise TransientError(f"temporary AWS error ({code})") from exc
        raise
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
        raise TransientError(f"temporary connection error ({type(exc).__name__})") from exc
    except PynamoDBException as exc:
        if getattr(exc, "cause_response_code", None) in TRANSIENT_CODES:
            raise TransientError(f"temporary DynamoDB error ({exc.cause_response_code})") from exc
        raise
