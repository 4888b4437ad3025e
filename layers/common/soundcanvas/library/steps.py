"""What the track-processing steps share: settings, the S3 client and the track records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from soundcanvas.core.settings import Settings
from soundcanvas.library.tracks import TrackStore


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
