"""What every workflow step Lambda shares: AWS errors worth retrying become `TransientError`,
the one error name the workflows' Retry blocks match (with Lambda's own service errors); a stage's
stopwatch; the work files one stage hands the next (too large for the state's 256 KB payload)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def stopwatch() -> Iterator[dict[str, int]]:
    """Elapsed milliseconds of the block, in `result["ms"]` when it ends."""
    result = {"ms": 0}
    started = time.perf_counter()
    try:
        yield result
    finally:
        result["ms"] = int((time.perf_counter() - started) * 1000)


class WorkFiles:
    """JSON and numpy work files in the bucket; a stage writes first and advances its record with a
    condition after, so whatever it wrote for a record that stopped meanwhile is either removed by the
    failure's clean-up or by `discard`."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put_json(self, key: str, data: Any) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(data).encode(), ContentType="application/json")
        return key

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_array(self, key: str, array: Any) -> str:
        import numpy as np  # only the analysis images need numpy

        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())
        return key

    def get_array(self, key: str) -> Any:
        import numpy as np

        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return np.load(io.BytesIO(body), allow_pickle=False)

    def discard(self, *keys: str) -> None:
        """Remove work files of a record that stopped running meanwhile (failed elsewhere, or deleted)."""
        self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
