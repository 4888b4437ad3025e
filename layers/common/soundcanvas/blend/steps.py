"""What Blend's workflow steps share: settings, the S3 client, the blend and song records, and the
work file Prepare hands Compose (too large for the state's 256 KB payload)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from soundcanvas.blend.blends import BlendStore
from soundcanvas.blend.songs import SongStore
from soundcanvas.core.settings import Settings

STOPPED = "the blend stopped running (it failed elsewhere, or it was deleted)"


@dataclass(frozen=True)
class BlendRuntime:
    settings: Settings
    s3: Any
    blends: BlendStore
    songs: SongStore

    @classmethod
    def from_env(cls) -> BlendRuntime:
        settings = Settings.from_env(need=("BLENDS_TABLE_NAME", "SONGS_TABLE_NAME"))
        return cls(
            settings=settings,
            s3=boto3.client("s3", region_name=settings.region),
            blends=BlendStore(settings.blends_table_name, settings.region, host=settings.dynamodb_endpoint),
            songs=SongStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint),
        )

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.settings.bucket_name, Key=key, Body=body, ContentType=content_type)

    def get_bytes(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.settings.bucket_name, Key=key)["Body"].read()
        return body

    def put_json(self, key: str, data: Any) -> None:
        self.put_bytes(key, json.dumps(data, separators=(",", ":")).encode(), "application/json")

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def discard(self, *keys: str) -> None:
        """Remove what a step wrote for a blend that stopped running meanwhile (failed elsewhere, or deleted)."""
        self.s3.delete_objects(Bucket=self.settings.bucket_name,
                               Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
