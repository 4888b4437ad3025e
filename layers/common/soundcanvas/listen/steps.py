"""What Listen's workflow steps share: settings, the S3 client, the records, and the work files one
stage hands the next (they are too large for the state's 256 KB payload)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from soundcanvas.core.settings import Settings
from soundcanvas.listen.transcriptions import TranscriptionStore, work_key

STOPPED = "the transcription stopped running (another stage failed, or it was deleted)"


@dataclass(frozen=True)
class ListenRuntime:
    settings: Settings
    s3: Any
    store: TranscriptionStore

    @classmethod
    def from_env(cls) -> ListenRuntime:
        settings = Settings.from_env(need=("TRANSCRIPTIONS_TABLE_NAME",))
        return cls(
            settings=settings,
            s3=boto3.client("s3", region_name=settings.region),
            store=TranscriptionStore(settings.transcriptions_table_name, settings.region,
                                     host=settings.dynamodb_endpoint),
        )

    # --- work files -------------------------------------------------------------------------------
    def put_json(self, job: dict[str, Any], name: str, data: Any) -> str:
        key = work_key(job["userId"], job["transcriptionId"], name)
        self.s3.put_object(Bucket=self.settings.bucket_name, Key=key, Body=json.dumps(data).encode(),
                           ContentType="application/json")
        return key

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.settings.bucket_name, Key=key)["Body"].read())

    def put_array(self, job: dict[str, Any], name: str, array: Any) -> str:
        import numpy as np  # only the analysis image needs numpy

        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        key = work_key(job["userId"], job["transcriptionId"], name)
        self.s3.put_object(Bucket=self.settings.bucket_name, Key=key, Body=buffer.getvalue())
        return key

    def discard(self, *keys: str) -> None:
        """Remove work files a stage wrote for a transcription that stopped running meanwhile (another
        branch failed, or it was deleted): the stage writes first and advances the record with a
        condition after, so whatever it wrote is either removed by the failure's clean-up or here."""
        self.s3.delete_objects(Bucket=self.settings.bucket_name,
                               Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})

    def get_array(self, key: str) -> Any:
        import numpy as np

        body = self.s3.get_object(Bucket=self.settings.bucket_name, Key=key)["Body"].read()
        return np.load(io.BytesIO(body), allow_pickle=False)


@contextmanager
def stopwatch() -> Iterator[dict[str, int]]:
    """Elapsed milliseconds of the block, in `result["ms"]` when it ends."""
    result = {"ms": 0}
    started = time.perf_counter()
    try:
        yield result
    finally:
        result["ms"] = int((time.perf_counter() - started) * 1000)
