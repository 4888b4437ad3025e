"""What every workflow step Lambda shares: its clients, transient-error translation, and
the rule that a step whose job vanished mid-flight leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from pynamodb.exceptions import PynamoDBException

from soundcanvas.errors import JobNotFound, TransientError
from soundcanvas.jobs import JobStore
from soundcanvas.settings import Settings
from soundcanvas.tracks import TrackStore

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


@dataclass(frozen=True)
class StepRuntime:
    settings: Settings
    s3: Any
    store: JobStore

    @classmethod
    def from_env(cls) -> StepRuntime:
        settings = Settings.from_env()
        return cls(
            settings=settings,
            s3=boto3.client("s3", region_name=settings.region),
            store=JobStore(settings.table_name, settings.region, host=settings.dynamodb_endpoint),
        )

    def advance_or_discard(
        self, job: dict[str, Any], *, finished: str, elapsed_ms: int, next_stage: str, written: list[str], **attrs: Any
    ) -> None:
        """Record the stage on the job; if the job was deleted or failed meanwhile, delete what we wrote."""
        if self.store.advance(
            job["userId"], job["jobId"], finished=finished, elapsed_ms=elapsed_ms, next_stage=next_stage, **attrs
        ):
            return
        if written:
            self.s3.delete_objects(
                Bucket=self.settings.bucket_name, Delete={"Objects": [{"Key": k} for k in written], "Quiet": True}
            )
        raise JobNotFound(f"generation {job['jobId']} was deleted or stopped during the {finished} stage")


@dataclass(frozen=True)
class TrackRuntime:
    """What the track-processing steps share: settings, the S3 client and the track records."""

    settings: Settings
    s3: Any
    store: TrackStore

    @classmethod
    def from_env(cls) -> TrackRuntime:
        settings = Settings.from_env(need=("TRACKS_TABLE_NAME",))
        return cls(
            settings=settings,
            s3=boto3.client("s3", region_name=settings.region),
            store=TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint),
        )
