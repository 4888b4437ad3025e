"""What the generation workflow's steps share: settings, the S3 client and the job records, and
the rule that a step whose job vanished mid-flight leaves nothing behind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from soundcanvas.core.errors import JobNotFound
from soundcanvas.core.settings import Settings
from soundcanvas.generation.jobs import JobStore


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
