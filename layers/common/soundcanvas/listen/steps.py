"""What Listen's workflow steps share: settings, the S3 client, the records, and the work files one
stage hands the next (they are too large for the state's 256 KB payload)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from soundcanvas.core.settings import Settings
from soundcanvas.core.steps import WorkFiles
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

    @property
    def files(self) -> WorkFiles:
        return WorkFiles(self.s3, self.settings.bucket_name)

    # --- work files -------------------------------------------------------------------------------
    def put_json(self, job: dict[str, Any], name: str, data: Any) -> str:
        return self.files.put_json(work_key(job["userId"], job["transcriptionId"], name), data)

    def get_json(self, key: str) -> Any:
        return self.files.get_json(key)

    def put_array(self, job: dict[str, Any], name: str, array: Any) -> str:
        return self.files.put_array(work_key(job["userId"], job["transcriptionId"], name), array)

    def get_array(self, key: str) -> Any:
        return self.files.get_array(key)

    def discard(self, *keys: str) -> None:
        """Remove work files a stage wrote for a transcription that stopped running meanwhile (another
        branch failed, or it was deleted)."""
        self.files.discard(*keys)
